// A Linux VM with SocketCAN for tests on machines whose own kernel has no CAN: Debian's kernel
// (linux-image-amd64) under qemu-system-x86_64 (KVM when /dev/kvm exists, else TCG), booted from
// an initramfs made here (busybox-static, the kernel modules it needs, an init script). The init
// mounts this machine's root read-only over virtio-9p and chroots into it (tmpfs over /tmp), so
// the guest runs the same files as the host: the compiled tb-gw, can-utils. A second 9p share, a
// fresh host folder mounted at the same path in the guest, carries commands and results:
//   - the host writes cmd/<n>.sh; the guest's agent runs it and writes cmd/<n>.out and cmd/<n>.rc;
//   - background programs in the guest (the gateway, candump) write their output files there, which
//     the host reads directly.
// The guest's only network is qemu's user-mode net with restrict=on (no way out) and one guestfwd:
// 10.0.2.100:1883 in the guest runs `socat - TCP:127.0.0.1:<port>` on the host per connection, so
// the gateway reaches the platform broker on host loopback and nothing else.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "../../../../test/support/poll.ts";

/** The guest's address for the platform broker (forwarded to host loopback). */
export const GUEST_PLATFORM_HOST = "10.0.2.100";
export const GUEST_PLATFORM_PORT = 1883;

const MODULES = ["can-raw", "vcan", "9p", "9pnet_virtio", "virtio_pci", "virtio_net"];

/** Why the VM cannot run here (a missing Debian package), or undefined when it can. */
export function vmUnavailable(): string | undefined {
  if (process.arch !== "x64") return "the SocketCAN VM test runs on x86-64 only";
  const need: string[] = [];
  if (!findKernel()) need.push("linux-image-amd64");
  if (spawnSync("sh", ["-c", "command -v qemu-system-x86_64"]).status !== 0) need.push("qemu-system-x86");
  if (!existsSync("/bin/busybox") || !/static/.test(spawnSync("file", ["-L", "/bin/busybox"], { encoding: "utf8" }).stdout ?? "static")) need.push("busybox-static");
  if (spawnSync("sh", ["-c", "command -v cansend && command -v candump && command -v socat"]).status !== 0) need.push("can-utils", "socat");
  return need.length ? `missing Debian packages: ${need.join(", ")} (test/install-peers.sh)` : undefined;
}

function findKernel(): { version: string; vmlinuz: string } | undefined {
  if (!existsSync("/boot")) return undefined;
  const versions = readdirSync("/boot")
    .filter((f) => f.startsWith("vmlinuz-"))
    .map((f) => f.slice("vmlinuz-".length))
    .filter((v) => existsSync(`/lib/modules/${v}/modules.dep`))
    .sort();
  const version = versions.at(-1);
  return version ? { version, vmlinuz: `/boot/vmlinuz-${version}` } : undefined;
}

/** The modules to load, dependencies first, from modules.dep (skipping built-in ones). */
function moduleOrder(version: string): string[] {
  const dir = `/lib/modules/${version}`;
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(`${dir}/modules.dep`, "utf8").split("\n")) {
    const [mod, rest] = line.split(":");
    if (mod && rest !== undefined) deps.set(mod, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const mod of deps.keys()) byName.set(mod.split("/").pop()!.replace(/\.ko(\.\w+)?$/, "").replace(/_/g, "-"), mod);
  const order: string[] = [];
  const visit = (mod: string) => {
    if (order.includes(mod)) return;
    for (const d of deps.get(mod) ?? []) visit(d);
    order.push(mod);
  };
  for (const name of MODULES) {
    const mod = byName.get(name.replace(/_/g, "-"));
    if (mod) visit(mod);
    // absent from modules.dep: built into the kernel
  }
  for (const m of order) if (!/\.ko$/.test(m)) throw new Error(`module ${m} is compressed; the VM test's init loads plain .ko files only`);
  return order.map((m) => join(dir, m));
}

/** A newc cpio archive (what the kernel unpacks as initramfs). */
class Cpio {
  private parts: Buffer[] = [];
  private ino = 1;
  private add(name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): void {
    const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length + 1, 0];
    const header = "070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("");
    const head = Buffer.from(header + name + "\0", "latin1");
    this.parts.push(head, Buffer.alloc((4 - (head.length % 4)) % 4), data, Buffer.alloc((4 - (data.length % 4)) % 4));
  }
  dir(name: string): void {
    this.add(name, 0o040755, Buffer.alloc(0));
  }
  file(name: string, data: Buffer, mode = 0o755): void {
    this.add(name, 0o100000 | mode, data);
  }
  charDevice(name: string, major: number, minor: number): void {
    this.add(name, 0o020600, Buffer.alloc(0), [major, minor]);
  }
  bytes(): Buffer {
    this.add("TRAILER!!!", 0, Buffer.alloc(0));
    return Buffer.concat(this.parts);
  }
}

function initScript(share: string, modules: string[]): string {
  const p9 = "trans=virtio,version=9p2000.L,msize=512000";
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${modules.map((m) => m.split("/").pop()).join(" ")}; do insmod /modules/$m || echo "tbgw-vm: insmod $m failed"; done
mount -t 9p -o ${p9},ro,cache=loose hostroot /mnt || echo "tbgw-vm: mounting the host root failed"
mount -t tmpfs tmp /mnt/tmp
mount -t proc proc /mnt/proc
mount -t sysfs sys /mnt/sys
mount -t devtmpfs dev /mnt/dev
mkdir -p /mnt/dev/shm && mount -t tmpfs shm /mnt/dev/shm
mkdir -p /mnt${share}
mount -t 9p -o ${p9} share /mnt${share} || echo "tbgw-vm: mounting the share failed"
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0
chroot /mnt /bin/ip link add dev vcan0 type vcan
chroot /mnt /bin/ip link set vcan0 mtu 72
chroot /mnt /bin/ip link set up vcan0
chroot /mnt /bin/sh ${share}/agent.sh
echo "tbgw-vm: agent ended"
poweroff -f
`;
}

/** Runs cmd/<n>.sh in order; output and exit code beside it; ends when the file "stop" appears. */
function agentScript(share: string): string {
  return `cd ${share}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
echo up > ready
n=0
while :; do
  if [ -f cmd/$n.sh ]; then
    sh cmd/$n.sh > cmd/$n.out 2>&1
    echo $? > cmd/$n.rc.tmp && mv cmd/$n.rc.tmp cmd/$n.rc
    n=$((n+1))
  elif [ -f stop ]; then
    break
  else
    sleep 0.05
  fi
done
`;
}

export interface CanVm {
  /** Host folder mounted at the same path in the guest. */
  share: string;
  /** Runs a shell command in the guest (inside the chroot); resolves with its output, rejects on a non-zero exit. */
  run(command: string, timeoutMs?: number): Promise<string>;
  /** The guest's console so far (kernel messages, init's lines), for failure messages. */
  console(): string;
  stop(): Promise<void>;
  /** Whether the guest runs under KVM (else TCG, several times slower). */
  kvm: boolean;
}

/** Boots the VM with `platformPort` (host loopback) reachable as 10.0.2.100:1883 in the guest. */
export async function startCanVm(platformPort: number): Promise<CanVm> {
  const kernel = findKernel();
  if (!kernel) throw new Error("no kernel in /boot with modules (apt-get install linux-image-amd64)");
  const share = mkdtempSync(join(tmpdir(), "tbgw-canvm-"));
  mkdirSync(join(share, "cmd"));
  const modules = moduleOrder(kernel.version);
  const cpio = new Cpio();
  for (const d of ["bin", "proc", "sys", "dev", "mnt", "modules"]) cpio.dir(d);
  cpio.charDevice("dev/console", 5, 1);
  cpio.file("bin/busybox", readFileSync("/bin/busybox"));
  for (const m of modules) cpio.file(`modules/${m.split("/").pop()}`, readFileSync(m), 0o644);
  cpio.file("init", Buffer.from(initScript(share, modules)));
  const initrd = join(share, "initrd.cpio");
  writeFileSync(initrd, cpio.bytes());
  writeFileSync(join(share, "agent.sh"), agentScript(share));

  // KVM where it works; nested in some hypervisors /dev/kvm exists but the guest never starts
  // (measured here: no console output at all), so KVM gets a short probe and TCG is the fallback.
  let vm: Booted | undefined;
  if (existsSync("/dev/kvm") && process.env.TB_GW_VM_NO_KVM !== "1") vm = await boot(true, share, kernel.vmlinuz, initrd, platformPort, 60_000, 10_000).catch(() => undefined);
  vm ??= await boot(false, share, kernel.vmlinuz, initrd, platformPort, 240_000).catch((e) => {
    rmSync(share, { recursive: true, force: true });
    throw e;
  });
  const { slow, consoleText } = vm;
  const exited = () => vm.exited;
  const stop = async () => {
    if (!vm.exited) {
      writeFileSync(join(share, "stop"), "");
      await waitUntil(() => vm.exited, 15_000 * slow, "the VM to power off").catch(() => {
        if (!vm.exited) vm.qemu.kill("SIGKILL");
      });
    }
    rmSync(share, { recursive: true, force: true });
  };
  let n = 0;
  return {
    share,
    console: consoleText,
    async run(command, timeoutMs = 30_000) {
      const i = n++;
      const tmp = join(share, "cmd", `${i}.tmp`);
      writeFileSync(tmp, command + "\n");
      renameSync(tmp, join(share, "cmd", `${i}.sh`));
      const rcFile = join(share, "cmd", `${i}.rc`);
      await waitUntil(() => existsSync(rcFile) || exited(), timeoutMs * slow, `the guest to run: ${command}`);
      if (exited()) throw new Error(`the VM ended while running: ${command}; console:\n${consoleText().slice(-2000)}`);
      const out = readFileSync(join(share, "cmd", `${i}.out`), "utf8");
      const rc = Number(readFileSync(rcFile, "utf8").trim());
      if (rc !== 0) throw new Error(`guest command failed (exit ${rc}): ${command}\n${out}`);
      return out;
    },
    stop,
    kvm: vm.kvm,
  };
}

interface Booted {
  qemu: ChildProcess;
  exited: boolean;
  kvm: boolean;
  /** Timeouts are multiplied by this (TCG emulates every instruction). */
  slow: number;
  consoleText(): string;
}

/** Starts qemu and waits for the agent's "ready"; gives up (and kills qemu) after `bootMs`. */
async function boot(kvm: boolean, share: string, vmlinuz: string, initrd: string, platformPort: number, bootMs: number, firstOutputMs = bootMs): Promise<Booted> {
  const consoleLog = join(share, kvm ? "console-kvm.log" : "console.log");
  const args = [
    ...(kvm ? ["-enable-kvm"] : ["-accel", "tcg", "-cpu", "max"]),
    "-m", "1024", "-smp", "2", "-no-reboot", "-display", "none", "-monitor", "none",
    "-serial", `file:${consoleLog}`,
    "-kernel", vmlinuz, "-initrd", initrd,
    "-append", "console=ttyS0 panic=-1 rdinit=/init",
    "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
    "-virtfs", `local,path=${share},mount_tag=share,security_model=none`,
    "-netdev", `user,id=n0,restrict=on,guestfwd=tcp:${GUEST_PLATFORM_HOST}:${GUEST_PLATFORM_PORT}-cmd:socat - TCP:127.0.0.1:${platformPort}`,
    "-device", "virtio-net-pci,netdev=n0",
  ];
  const qemu: ChildProcess = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "pipe", "pipe"] });
  let qemuOut = "";
  qemu.stdout?.on("data", (d) => (qemuOut += String(d)));
  qemu.stderr?.on("data", (d) => (qemuOut += String(d)));
  const b: Booted = {
    qemu,
    exited: false,
    kvm,
    slow: kvm ? 1 : 4,
    consoleText: () => (existsSync(consoleLog) ? readFileSync(consoleLog, "utf8") : "") + (qemuOut ? `\n[qemu] ${qemuOut}` : ""),
  };
  qemu.on("exit", () => (b.exited = true));
  try {
    await waitUntil(() => existsSync(consoleLog) && readFileSync(consoleLog).length > 0, firstOutputMs, `the kernel's first console line (${kvm ? "KVM" : "TCG"})`);
    await waitUntil(() => existsSync(join(share, "ready")) || b.exited, bootMs, `the VM to boot (${kvm ? "KVM" : "TCG"})`);
    if (b.exited) throw new Error("qemu ended before the guest was up");
    return b;
  } catch (e) {
    const text = b.consoleText();
    if (!b.exited) {
      qemu.kill("SIGKILL");
      await waitUntil(() => b.exited, 10_000, "qemu to end").catch(() => {});
    }
    throw new Error(`${e instanceof Error ? e.message : String(e)}; console:\n${text.slice(-4000)}`);
  }
}
