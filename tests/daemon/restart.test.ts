import { expect, test } from "bun:test";
import { restartArgv, restartedFrom } from "../../src/daemon/restart.ts";

test("the fresh image runs the same binary with the arguments the daemon was given", () => {
  // A compiled binary: argv[1] is the embedded entry point, not an argument.
  expect(restartArgv("/usr/local/bin/logtriage", ["bun", "/$bunfs/root/logtriage", "daemon", "--db", "/x.db"])).toEqual([
    "/usr/local/bin/logtriage",
    "daemon",
    "--db",
    "/x.db",
  ]);
  // Under `bun src/cli.ts daemon`: the script is run again.
  expect(restartArgv("/usr/bin/bun", ["/usr/bin/bun", "/src/cli.ts", "daemon"])).toEqual(["/usr/bin/bun", "/src/cli.ts", "daemon"]);
});

test("why and when the fresh image was started, from its environment", () => {
  expect(restartedFrom("1796541326559 SIGHUP: reloading the configuration")).toEqual({
    atMs: 1796541326559,
    why: "SIGHUP: reloading the configuration",
  });
  expect(restartedFrom(undefined)).toBeNull();
  expect(restartedFrom("soon")).toBeNull();
});
