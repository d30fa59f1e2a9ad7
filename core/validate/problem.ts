/**
 * One thing wrong with a document, and where: the full field path (`spec.agents.groups[0].days`, `""` for
 * the document as a whole) and what is wrong with it, in words a person can act on. Resources, update.yaml,
 * the release manifest and report bodies all name their problems this way; the server answers them with a
 * 400 and the admin client reads them back.
 */
export interface Problem {
  path: string;
  message: string;
}

/** Where a checker puts the problems it finds (every one, not only the first). */
export interface ProblemList {
  problems: Problem[];
}

/** Adds a problem at `path`. */
export function report(list: ProblemList, path: string, message: string): void {
  list.problems.push({ path, message });
}
