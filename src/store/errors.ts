/** The event database cannot be used: runtime failure, exit code 1, the path named. */
export class StoreError extends Error {
  readonly exitCode = 1;
  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StoreError";
  }
}
