// The shell's commands as promises that resolve to the value or reject
// with the ApiError {kind, message}: the generated bindings return
// status-tagged results, which this unwraps once for every caller.

import type { ApiError, Settings_Serialize } from "./bindings";

/** What a fallible command's promise resolves to. */
export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

/** The settings as the shell hands them out (every field present). */
export type Settings = Settings_Serialize;

/** The value of a command's result, or its error thrown. */
export async function ok<T>(pending: Promise<Result<T, ApiError>>): Promise<T> {
  const result = await pending;
  if (result.status === "error") {
    throw result.error;
  }
  return result.data;
}
