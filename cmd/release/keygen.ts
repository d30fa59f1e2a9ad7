/** `upkeep release keygen`: a new signing key pair, encrypted unless --unencrypted. */
import { UsageError } from "../../core/errors.ts";
import { writeKeyPair } from "../../core/sys/keys.ts";
import { getPassword } from "../../core/sys/password.ts";
import { isValidProduct } from "../../core/trust/artifact_name.ts";
import { encodePublicKey } from "../../core/trust/minisign.ts";
import { type JsonFlag, print, report } from "../output.ts";

export interface KeygenFlags extends JsonFlag {
  outDir: string;
  product?: string;
  unencrypted?: boolean;
  force?: boolean;
}

export async function keygen(opts: KeygenFlags): Promise<void> {
  // Checked before a password is asked for.
  if (opts.product !== undefined && !isValidProduct(opts.product))
    throw new UsageError(
      `--product ${JSON.stringify(opts.product)}: use lowercase letters, digits and inner '-' (it names the artifacts)`,
    );
  const password = opts.unencrypted
    ? undefined
    : await getPassword({ label: "the new secret key", confirm: true });
  if (!opts.json && password !== undefined)
    print("Deriving the encryption key (scrypt, about 1 GiB, a few seconds)...");
  const r = await writeKeyPair(opts.outDir, {
    force: opts.force,
    password,
    ...(opts.product === undefined ? {} : { name: opts.product }),
  });
  report(
    opts,
    {
      secret_key: r.secretKeyPath,
      public_key: r.publicKeyPath,
      key_id: r.keyId,
      public_key_base64: encodePublicKey(r.publicKey),
      encrypted: password !== undefined,
    },
    (d) =>
      [
        `secret key: ${d.secret_key} (${d.encrypted ? "encrypted" : "NOT encrypted"}; keep it offline)`,
        `public key: ${d.public_key} (key id ${d.key_id})`,
        `verify with: upkeep release verify --pub ${d.public_key_base64} FILE`,
        `         or: minisign -Vm FILE -P ${d.public_key_base64}`,
        `publish it for \`tools login\`: upkeep admin publish --key ${d.public_key}`,
      ].join("\n"),
  );
}
