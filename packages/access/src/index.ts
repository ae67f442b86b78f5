export { AccessControl, type AuditRecord, type TokenInfo } from "./access";
export { TokenUsageError, tokenCommand } from "./cli";
