// /proc/self/mounts (proc(5), fstab(5) fields): "/dev/vda / ext4 rw,relatime 0 0". Which of
// them are disks a service can fill: a block device (source starting with "/", which also
// takes /dev/mapper and /dev/md) or a file system that holds data without one (zfs, btrfs
// subvolumes by device, network shares). proc, sysfs, cgroup, tmpfs, devpts, overlay layers
// and the like are skipped: their "usage" is RAM or another file system's.

export interface MountedFilesystem {
  device: string;
  mountPoint: string;
  fsType: string;
}

const DATA_WITHOUT_BLOCK_DEVICE = new Set(["zfs", "nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "fuse.sshfs"]);

// The kernel escapes space, tab, newline and backslash in mount fields as octal (\040 ...).
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The real file systems, each once: a device bind-mounted in several places is listed at its
 * first mount point (usually the shortest, the one `df` shows).
 */
export function parseRealMounts(text: string): MountedFilesystem[] {
  const seenDevices = new Set<string>();
  const out: MountedFilesystem[] = [];
  for (const line of text.split("\n")) {
    const [rawDevice, rawMountPoint, fsType] = line.split(" ");
    if (rawDevice === undefined || rawMountPoint === undefined || fsType === undefined) continue;
    const device = unescapeMountField(rawDevice);
    if (!device.startsWith("/") && !DATA_WITHOUT_BLOCK_DEVICE.has(fsType)) continue;
    if (seenDevices.has(device)) continue;
    seenDevices.add(device);
    out.push({ device, mountPoint: unescapeMountField(rawMountPoint), fsType });
  }
  return out;
}

/** Used share of a file system as df(1) computes it: used / (used + available to users). */
export function diskUsedPercent(s: { blocks: number; bfree: number; bavail: number }): number | null {
  const used = s.blocks - s.bfree;
  const usable = used + s.bavail;
  if (s.blocks <= 0 || usable <= 0) return null;
  return (used / usable) * 100;
}
