#!/bin/busybox sh
# The guest's /init (busybox sh, PID 1), in two stages:
#   stage 1, in the initramfs: load the boot modules, mount the host root read-only over 9p under a
#     tmpfs overlay, mount the project read-write at its host path, then switch_root into it;
#   stage 2, in the overlay root: preload modules, run the request, report its exit code, power off.
# The host writes two files into its run directory (seen here through the 9p root):
#   init.conf  - shell variables PROJECT_DIR, MODULES_DIR, PRELOAD, DEADLINE, DENO_CACHE_DIR
#                (tests/vm/guest_files.ts)
#   request.sh - the command, with cwd and environment, run by the host's own /bin/sh
# Ports (virtio-serial, named by the host): stdout, stderr, status. The status port carries one line
# per event: "ready <uptime>", "exit <code>" or "error <message>".
# shellcheck shell=ash

BB=/bin/busybox
RUN=/run/ipvs-vm

# The kernel console (ttyS0) only; stdout/stderr of the request go to their own ports.
log() { echo "ipvs-vm: $*" >/dev/console; }

# The device node of a named virtio-serial port (no udev here, so read the names from sysfs).
port() {
  for p in /sys/class/virtio-ports/*; do
    if [ "$($BB cat "$p/name" 2>/dev/null)" = "$1" ]; then
      echo "/dev/${p##*/}"
      return 0
    fi
  done
  return 1
}

status() {
  s=$(port status) && echo "$*" >"$s"
}

die() {
  log "error: $*"
  status "error $*"
  $BB sync
  $BB poweroff -f
  # poweroff -f returns only if the machine cannot power off; exiting PID 1 panics and reboots,
  # which qemu's -no-reboot turns into an exit.
  exit 1
}

cmdline_value() {
  for word in $($BB cat /proc/cmdline); do
    case "$word" in "$1="*) echo "${word#*=}" ;; esac
  done
}

stage1() {
  export PATH=/bin
  $BB mkdir -p /proc /sys /dev /lower /rw /newroot
  $BB mount -t proc proc /proc
  $BB mount -t sysfs sysfs /sys
  $BB mount -t devtmpfs devtmpfs /dev
  $BB --install -s /bin
  log "stage 1: loading boot modules"

  # Listed deps-first by tests/vm/initramfs.ts.
  while read -r ko; do
    insmod "/lib/modules/$ko" || die "cannot load boot module $ko"
  done </lib/modules/boot.list

  run_dir=$(cmdline_value ipvsvm.run)
  [ -n "$run_dir" ] || die "no ipvsvm.run= on the kernel command line"

  # cache=loose: the host root is read-only for the guest and does not change during a run, so
  # caching pages and dentries is safe and makes starting deno over 9p several times faster.
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower ||
    die "cannot mount the host root over 9p"
  [ -r "/lower$run_dir/init.conf" ] || die "cannot read $run_dir/init.conf through the host root"
  . "/lower$run_dir/init.conf"

  mount -t tmpfs -o mode=0755 tmpfs /rw
  mkdir -p /rw/upper /rw/work
  mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
    die "cannot mount the overlay root"

  mount -t tmpfs -o mode=0755 tmpfs /newroot/run
  mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
  # After the tmpfs mounts, so a project under /tmp gets its mount point in the new /tmp.
  mkdir -p "/newroot$RUN" "/newroot$PROJECT_DIR" /newroot/dev
  # cache=none: the host reads what the guest writes here, right after the run.
  mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=512000 project "/newroot$PROJECT_DIR" ||
    die "cannot mount the project directory $PROJECT_DIR over 9p"

  # The host's DENO_DIR at its own path, writable through an overlay whose writes vanish with the
  # VM: the guest has no network, so it must see the cache the host filled, even under /tmp.
  if [ -n "$DENO_CACHE_DIR" ]; then
    mkdir -p /rw/deno-upper /rw/deno-work "/newroot$DENO_CACHE_DIR"
    mount -t overlay -o "lowerdir=/lower$DENO_CACHE_DIR,upperdir=/rw/deno-upper,workdir=/rw/deno-work" \
      overlay "/newroot$DENO_CACHE_DIR" || die "cannot mount the deno cache $DENO_CACHE_DIR"
  fi

  # The kernel's module autoloading (request_module) runs the guest's /sbin/modprobe, which looks
  # in /lib/modules/<release>: show it the cached modules of this kernel there.
  release=$(uname -r)
  mkdir -p "/newroot/lib/modules/$release"
  mount --bind "/lower$MODULES_DIR" "/newroot/lib/modules/$release" ||
    die "cannot bind the kernel modules from $MODULES_DIR"

  cp /bin/busybox "/newroot$RUN/busybox"
  cp /init "/newroot$RUN/init"
  cp "/lower$run_dir/request.sh" "/newroot$RUN/request.sh" || die "cannot copy the request"
  cp "/lower$run_dir/init.conf" "/newroot$RUN/init.conf"
  mount --move /dev /newroot/dev
  log "stage 1: switching to the overlay root"
  umount /proc /sys
  exec switch_root /newroot "$RUN/busybox" sh "$RUN/init" stage2
}

stage2() {
  BB=$RUN/busybox
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  $BB mount -t proc proc /proc
  $BB mount -t sysfs sysfs /sys
  $BB mkdir -p /dev/pts /dev/shm
  $BB mount -t devpts devpts /dev/pts
  $BB mount -t tmpfs tmpfs /dev/shm
  . "$RUN/init.conf"

  # The host kills the VM at its timeout; this covers a host process that died before it could.
  ($BB sleep "$DEADLINE" && die "the guest's deadline of $DEADLINE s passed") &
  $BB ip link set lo up
  if [ -n "$PRELOAD" ]; then
    # shellcheck disable=SC2086 # PRELOAD is a space-separated list of module names
    /sbin/modprobe -a $PRELOAD || die "cannot preload modules: $PRELOAD"
  fi

  out=$(port stdout) && err=$(port stderr) || die "missing virtio-serial ports"
  uptime=$($BB cut -d' ' -f1 /proc/uptime)
  log "stage 2: ready after $uptime s, running the request"
  status "ready $uptime"
  /bin/sh "$RUN/request.sh" </dev/null >"$out" 2>"$err"
  code=$?
  log "stage 2: the request exited with code $code"
  status "exit $code"
  $BB sync
  $BB poweroff -f
  exit 1
}

case "$1" in
stage2) stage2 ;;
*) stage1 ;;
esac
