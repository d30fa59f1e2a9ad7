/** `upkeep release sign`: FILE.minisig (and FILE.sha256) beside each file. */
import { basename } from "node:path";
import { writeFileAtomic } from "../../core/sys/files.ts";
import { hashFile } from "../../core/sys/hash.ts";
import { loadSecretKey } from "../../core/sys/keys.ts";
import { signFile } from "../../core/sys/signing.ts";
import { formatChecksumFile } from "../../core/trust/checksum_file.ts";
import { keyIdHex } from "../../core/trust/minisign.ts";
import { type JsonFlag, print } from "../output.ts";
import { deriveNotice, requireFiles } from "./_shared.ts";

export interface SignFlags extends JsonFlag {
  key: string;
  sha256?: boolean;
}

export async function sign(files: string[], opts: SignFlags): Promise<void> {
  await requireFiles(files);
  const sk = await loadSecretKey(opts.key, deriveNotice());
  const written: { file: string; signature: string; sha256?: string }[] = [];
  for (const f of files) {
    const sig = await signFile(f, sk);
    await writeFileAtomic(`${f}.minisig`, sig, { overwrite: true });
    const entry: { file: string; signature: string; sha256?: string } = {
      file: f,
      signature: `${f}.minisig`,
    };
    if (opts.sha256) {
      const { sha256 } = await hashFile(f, ["sha256"]);
      await writeFileAtomic(`${f}.sha256`, formatChecksumFile(sha256 ?? "", basename(f)), {
        overwrite: true,
      });
      entry.sha256 = `${f}.sha256`;
    }
    written.push(entry);
    if (!opts.json) print(`signed ${f} -> ${f}.minisig${opts.sha256 ? ` (+ ${f}.sha256)` : ""}`);
  }
  if (opts.json) print(JSON.stringify({ key_id: keyIdHex(sk.keyId), signed: written }, null, 2));
}
