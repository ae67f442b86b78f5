/**
 * @module The `token` command both services' command lines offer: create a token (printed once), list them,
 * revoke one. It works on the database directly, which is how the first admin token is made.
 */
import { parseArgs } from "node:util";
import { ROLES, type Role } from "@sovereign/http";
import type { AccessControl } from "./access";

/** A usage mistake on the command line: the CLI prints it and exits with 2. */
export class TokenUsageError extends Error {}

export async function tokenCommand(
  program: string,
  args: string[],
  access: AccessControl,
  out: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { role: { type: "string" }, name: { type: "string" } },
  });
  switch (sub) {
    case "create": {
      if (!values.role || !values.name)
        throw new TokenUsageError(`usage: ${program} token create --role ${ROLES.join("|")} --name NAME`);
      if (!(ROLES as readonly string[]).includes(values.role))
        throw new TokenUsageError(`--role: ${values.role} is not one of ${ROLES.join(", ")}`);
      const created = await access.createToken({ name: values.name, role: values.role as Role });
      out.stderr.write(`token ${created.id} (${created.role}, ${created.name}); shown once, keep it:\n`);
      out.stdout.write(`${created.token}\n`);
      return 0;
    }
    case "list":
      for (const t of await access.listTokens())
        out.stdout.write(
          `${t.id}\t${t.role}\t${t.name}\t${t.revokedAt ? `revoked ${t.revokedAt}` : "active"}\t${t.lastUsedAt ?? "never used"}\n`,
        );
      return 0;
    case "revoke": {
      if (positionals.length !== 1) throw new TokenUsageError(`usage: ${program} token revoke <id>`);
      const revoked = await access.revokeToken(positionals[0] ?? "");
      out.stdout.write(
        `token ${revoked.id} (${revoked.role}, ${revoked.name}) revoked ${revoked.revokedAt}\n`,
      );
      return 0;
    }
    default:
      throw new TokenUsageError(`usage: ${program} token create|list|revoke`);
  }
}
