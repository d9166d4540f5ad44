import { defineCommand } from "citty";
import { Redactor } from "../text/redact.ts";
import { defaultConfigPath } from "../config/load.ts";
import { testNotification } from "../notify/alert.ts";
import { NtfyNotifier } from "../notify/ntfy.ts";
import { commonArgs, loadCommandEnv, UsageError } from "./_context.ts";

// `logtriage test-ntfy`: one notification through the same client the daemon uses, so a
// wrong topic, token or proxy shows up now, in one line, rather than at the first OOM kill.
// A failed send throws its NotifyError; main.ts prints the reason and exits 1.

export const testNtfyCommand = defineCommand({
  meta: { name: "test-ntfy", description: "Send a test notification to the [ntfy] topic (title includes the instance id)" },
  args: { ...commonArgs },
  async run({ args }) {
    const env = loadCommandEnv(args);
    const ntfy = env.config.ntfy;
    const configFile = env.configPath ?? defaultConfigPath(process.env);
    if (ntfy.url === "") {
      throw new UsageError(`no ntfy topic configured: set [ntfy] url in ${configFile}, e.g. url = "https://ntfy.sh/my-topic"`);
    }
    // The config check has made sure the url names a topic.
    const notifier = new NtfyNotifier(ntfy, new Redactor(env.config.redact));
    const instanceId = env.config.instance.id;
    // The client's own [ntfy] timeout bounds the wait; Ctrl-C ends the process as usual.
    await notifier.send(testNotification(instanceId, Date.now() * 1000, ntfy), new AbortController().signal);
    console.log(`sent to ${notifier.target.serverUrl}/${notifier.target.topic}`);
  },
});
