/** `upkeep tools install-shims`: DIR/TOOL links to this executable. */
import { lstatSync, mkdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { UpkeepError, UsageError } from "../../errors.ts";
import { isToolName } from "../../tools/is_tool_name.ts";
import { pointAt } from "../install/dirs.ts";
import { errorCodeOf, ioError } from "../io_error.ts";

/**
 * Makes `<dir>/<tool>` a link to this executable, atomically replacing an older link (the installer's
 * `pointAt`: a new link renamed over the old one, the temp link removed on failure, the directory synced).
 */
export async function installShims(tools: string[], dir: string, self: string): Promise<string[]> {
  if (tools.length === 0)
    throw new UsageError("name at least one tool, e.g. `upkeep tools install-shims tsh tctl`");
  mkdirSync(dir, { recursive: true });
  const made: string[] = [];
  for (const tool of tools) {
    if (!isToolName(tool) || tool.startsWith("upkeep")) {
      throw new UsageError(`invalid tool name ${JSON.stringify(tool)}`);
    }
    const link = join(dir, tool);
    try {
      const st = lstatSync(link);
      if (!st.isSymbolicLink())
        throw new UpkeepError("E_EXISTS", `${link} exists and is not a link: not replacing it`, {
          hint: "remove or rename it yourself, or put the shims in another folder with --dir",
          exitCode: 1,
        });
      if (readlinkSync(link) === self) {
        made.push(link);
        continue;
      }
    } catch (e) {
      if (e instanceof UpkeepError) throw e;
      if (errorCodeOf(e) !== "ENOENT") throw ioError("inspect", link, e);
    }
    await pointAt(link, self);
    made.push(link);
  }
  return made;
}
