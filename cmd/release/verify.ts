/** `upkeep release verify`: exit 0 when the signature is valid, 1 when not (with the reason). */
import { isUpkeepError } from "../../core/errors.ts";
import { loadTrustedKeys } from "../../core/sys/keys.ts";
import { readSignatureFile, verifyFileSignature } from "../../core/sys/signing.ts";
import { setExitCode } from "../context.ts";
import { type JsonFlag, print, warn } from "../output.ts";
import { requireFiles } from "./_shared.ts";

export interface VerifyFlags extends JsonFlag {
  pub: string[];
  sig?: string;
  allowLegacy?: boolean;
}

export async function verify(file: string, opts: VerifyFlags): Promise<void> {
  await requireFiles([file]);
  const keys = await loadTrustedKeys(opts.pub);
  const sigPath = opts.sig ?? `${file}.minisig`;
  let verdict: Awaited<ReturnType<typeof verifyFileSignature>>;
  try {
    const text = await readSignatureFile(sigPath);
    verdict = await verifyFileSignature(file, text, keys, { allowLegacy: opts.allowLegacy });
  } catch (e) {
    if (!isUpkeepError(e)) throw e;
    // A missing or oversized signature file: the file is not validly signed.
    verdict = { ok: false, code: e.code, reason: e.message };
  }
  if (verdict.ok) {
    if (opts.json) {
      print(
        JSON.stringify(
          {
            valid: true,
            reason: null,
            code: null,
            key_id: verdict.keyId,
            trusted_comment: verdict.trustedComment,
          },
          null,
          2,
        ),
      );
    } else {
      print(`valid: ${file} signed by key ${verdict.keyId}`);
      print(`trusted comment: ${verdict.trustedComment}`);
    }
    return;
  }
  setExitCode(1);
  if (opts.json) {
    print(
      JSON.stringify(
        {
          valid: false,
          reason: verdict.reason,
          code: verdict.code,
          key_id: verdict.keyId ?? null,
          trusted_comment: null,
        },
        null,
        2,
      ),
    );
  } else {
    warn(`upkeep: INVALID: ${file}: ${verdict.reason} (${verdict.code})`);
  }
}
