/**
 * @module The curator's errors: the services' shared error module (`@sovereign/http`), under the name the
 * registry and routes use.
 */
export {
  ErrorBody,
  type ErrorCode,
  errorBody,
  errorStatus,
  notFound,
  ServiceError as CuratorError,
} from "@sovereign/http";
