/**
 * The qemu command line of one VM run (pure, so it can be read and tested on its own).
 *
 * @module
 */

/** Everything that varies between runs. */
export interface QemuConfig {
  /** Uncompressed ELF kernel, booted through PVH (no real-mode setup, no decompression). */
  vmlinux: string;
  /** The initramfs (tests/vm/initramfs.ts). */
  initramfs: string;
  /** Guest memory in MiB. */
  memoryMb: number;
  /** Virtual CPUs (qemu runs one host thread per vCPU with multi-threaded TCG). */
  cpus: number;
  /** Host directory with init.conf, request.sh, the port sockets and console.log. */
  runDir: string;
  /** Host directory shared read-write at the same path in the guest. */
  projectDir: string;
}

/** The virtio-serial ports, by name; each is a unix socket `<runDir>/<name>.sock` on the host. */
export const PORTS = ["stdout", "stderr", "status"] as const;

/** One of {@linkcode PORTS}. */
export type PortName = typeof PORTS[number];

/** The kernel command line; `ipvsvm.run` tells /init where its files are. */
export function kernelCommandLine(runDir: string): string {
  if (/\s/.test(runDir)) {
    throw new Error(`The VM run directory '${runDir}' must not contain spaces`);
  }
  return [
    "console=ttyS0",
    "rdinit=/init",
    // Only warnings and worse on the (slow, emulated) serial console.
    "loglevel=4",
    // Reboot at once on a panic; -no-reboot turns that into qemu exiting.
    "panic=-1",
    // Under TCG the TSC calibration and the mitigations only cost time.
    "tsc=reliable",
    "no_timer_check",
    "mitigations=off",
    `ipvsvm.run=${runDir}`,
  ].join(" ");
}

/** The arguments after `qemu-system-x86_64`. */
export function qemuArgs(config: QemuConfig): string[] {
  const args = [
    // /dev/kvm may exist but cannot run a stock kernel on these machines: emulate.
    "-accel",
    "tcg,thread=multi",
    "-cpu",
    "max",
    "-machine",
    "q35",
    "-smp",
    String(config.cpus),
    "-m",
    String(config.memoryMb),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    config.vmlinux,
    "-initrd",
    config.initramfs,
    "-append",
    kernelCommandLine(config.runDir),
    "-chardev",
    `file,id=console,path=${optionValue(`${config.runDir}/console.log`)}`,
    "-serial",
    "chardev:console",
    ...virtfs("hostroot", "/", true),
    ...virtfs("project", config.projectDir, false),
    "-device",
    "virtio-serial-pci",
  ];
  for (const name of PORTS) {
    args.push(
      "-chardev",
      `socket,id=${name},path=${optionValue(`${config.runDir}/${name}.sock`)}`,
      "-device",
      `virtserialport,chardev=${name},name=${name}`,
    );
  }
  return args;
}

function virtfs(tag: string, path: string, readonly: boolean): string[] {
  // security_model=none: files keep their host owners and modes, and a guest chown that the host
  // user may not do is ignored instead of failing. multidevs=remap keeps inode numbers unique
  // across the host's mounts.
  const options = [
    `local,id=${tag},path=${optionValue(path)},security_model=none,multidevs=remap`,
    ...(readonly ? ["readonly=on"] : []),
  ];
  return ["-fsdev", options.join(","), "-device", `virtio-9p-pci,fsdev=${tag},mount_tag=${tag}`];
}

/** qemu option values separate with commas; a literal comma is written twice. */
function optionValue(path: string): string {
  return path.replaceAll(",", ",,");
}
