// Turn a cgroup path into the name a person knows it by. systemd names desktop apps'
// scopes after the launcher and the app id:
//   /user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4521.scope      → firefox
//   …/app-flatpak-org.mozilla.firefox-4521.scope                                              → firefox
//   …/app-org.gnome.Terminal-5678.scope, …/app-gnome-org.gnome.Terminal@1234.service          → Terminal
//   /system.slice/docker-3f2a….scope                                                          → docker-3f2a…
//   /system.slice/nginx.service                                                               → nginx.service

const LAUNCHERS = /^(?:gnome|kde|flatpak|xfce|cinnamon|mate|lxqt|dbus|systemd|snap|sway|hyprland)-/;

/** The last component of a cgroup path: the unit (or scope) that owns it. */
export function cgroupLeaf(path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  return parts[parts.length - 1] ?? path;
}

/** A short app name for an `app-…` scope or service; the leaf unit name otherwise. */
export function appNameFromCgroup(path: string): string {
  const leaf = cgroupLeaf(path);
  const app = /^app-(.+?)(?:[-@][0-9a-f]+)?\.(?:scope|service)$/.exec(leaf);
  if (!app) return leaf;
  let id = (app[1] as string).replace(LAUNCHERS, "");
  // Reverse-DNS app ids: the last label is the name people use.
  if (/^[a-z]{2,}\.[\w-]+\.[\w.-]+$/i.test(id)) id = id.split(".").pop() ?? id;
  return id;
}
