// systemd's stable MESSAGE_IDs (src/systemd/sd-messages.h). Matching on these first makes
// the classifier independent of the message's language and wording.
export const MESSAGE_ID = {
  /** "X.service: Failed with result 'exit-code'." — UNIT_RESULT= */
  unitFailureResult: "d9b373ed55a64feb8242e02dbe79a49c",
  /** "X.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED" — EXIT_CODE=, EXIT_STATUS= */
  unitProcessExit: "98e322203f7a4ed290d09fe03c09fe15",
  /** "X.service: Scheduled restart job, restart counter is at 2." — N_RESTARTS= */
  unitRestartScheduled: "5eb03494b6584870a536b337290809b3",
  /** "Failed to start X.service - Description." — a start job that failed (JOB_RESULT=failed) */
  unitStartFailed: "be02cf6855d2428ba40df7e9d022f03d",
  /** "X.service: Failed to locate executable /x: No such file or directory" and other spawn failures */
  spawnFailed: "641257651c1b4ec9a8624d7a40a9e1e7",
  /** "X.service: Deactivated successfully." */
  unitSuccess: "7ad2d189f7e94e70a38c781354912448",
  /**
   * "Started X.service - Description." (and "Reached target X.target") — a start job that
   * finished: JOB_TYPE=start, JOB_RESULT=done, logged as the main process is forked. Seen from
   * both managers on systemd 252.
   */
  unitStarted: "39f53479d3a045ac8e11786248231fbf",
  /**
   * "Stopped X.service - Description." — a stop job done. JOB_TYPE=restart when the stop is the
   * first half of a restart job (`systemctl restart`, or Restart= after "Scheduled restart
   * job"); JOB_TYPE=stop for a plain stop, a shutdown or an isolate. Seen on systemd 252.
   */
  unitStopped: "9d1aaa27d60140bd96365438aad20286",
  /** "X.scope: systemd-oomd killed 12 process(es) in this unit." */
  unitOomdKill: "d989611b15e44c9dbf31e3c81256e4ed",
  /** "X.service: A process of this unit has been killed by the OOM killer." */
  unitOutOfMemory: "fe6faa94e7774663a0da52717891d8ef",
  /** systemd-coredump: "Process 4215 (python3) of user 0 dumped core." — COREDUMP_* fields */
  coredump: "fc2e22bc6ee647b6b90729ab34a250b1",
} as const;
