import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ControlPlane } from "./cluster.js";
import { toolPath } from "./paths.js";
import type { Pki } from "./pki.js";
import type { ProcessGroup } from "./processes.js";
import { freePort, waitFor } from "./wait.js";

/** The node's name in the cluster. */
export const NODE_NAME = "qs-e2e-node";

/** Where the CNI plugins of Debian's containernetworking-plugins live. */
const CNI_BIN_DIR = "/usr/lib/cni";

/** The stand-in sandbox ("pause") image: nothing can be pulled, so the run builds its own. */
export const PAUSE_IMAGE = "localhost/queuescale-standin/pause:e2e";

export interface NodeNetwork {
  /** The bridge the run creates; pods get addresses on it through the CNI bridge plugin. */
  readonly bridge: string;
  readonly subnet: string;
  /** The bridge's own address: the pods' gateway, where the run's relays to the brokers listen. */
  readonly gateway: string;
}

/**
 * A real node: containerd (Debian's, with runc) and a kubelet built from the pinned Kubernetes
 * module, pods on a bridge of the run's own. Everything it creates outside its directory (the
 * bridge, network namespaces, iptables rules, mounts, pod logs) is listed here and removed by
 * cleanup(), which is synchronous so the run's exit handler can call it too.
 */
export class RealNode {
  private cleaned = false;
  /** Every container (and sandbox) id seen at cleanup: containerd's CNI cache entries carry them. */
  private readonly containerIds = new Set<string>();
  private readonly iptablesBefore: Map<string, string>;
  private readonly netnsBefore: Set<string>;

  private constructor(
    readonly dir: string,
    readonly network: NodeNetwork,
    readonly containerdSocket: string,
    private readonly processes: ProcessGroup,
    private readonly namespaces: readonly string[],
  ) {
    this.iptablesBefore = new Map(["iptables", "ip6tables"].map((tool) => [tool, iptablesSave(tool)]));
    this.netnsBefore = new Set(listNetns());
  }

  /**
   * Creates the bridge, starts containerd, imports the images, writes the CNI configuration and
   * starts the kubelet; resolves once the node is Ready. `namespaces` are the Kubernetes
   * namespaces whose pod logs the cleanup removes from /var/log/pods.
   */
  static async start(options: {
    dir: string;
    processes: ProcessGroup;
    pki: Pki;
    cluster: ControlPlane;
    imageArchives: readonly string[];
    namespaces: readonly string[];
  }): Promise<RealNode> {
    const { dir, processes, pki, cluster } = options;
    await mkdir(dir, { recursive: true });
    const network = pickNetwork();
    const containerdDir = join(dir, "containerd");
    await mkdir(containerdDir, { recursive: true });
    const socket = join(containerdDir, "containerd.sock");
    const node = new RealNode(dir, network, socket, processes, options.namespaces);
    try {
      sh("ip", ["link", "add", network.bridge, "type", "bridge"]);
      sh("ip", ["addr", "add", `${network.gateway}/24`, "dev", network.bridge]);
      sh("ip", ["link", "set", network.bridge, "up"]);

      const cniConfDir = join(dir, "cni", "net.d");
      await mkdir(cniConfDir, { recursive: true });
      await writeFile(join(containerdDir, "config.toml"), containerdConfig(containerdDir, cniConfDir));
      processes.start("containerd", "containerd", ["--config", join(containerdDir, "config.toml")]);
      await waitFor(async () => (existsSync(socket) ? true : undefined), {
        timeoutMs: 30_000,
        what: "containerd's socket",
        abort: () => (processes.alive("containerd") ? undefined : `exited; see ${processes.logPath("containerd")}`),
      });
      for (const archive of options.imageArchives) {
        sh("ctr", ["--address", socket, "-n", "k8s.io", "images", "import", archive]);
      }
      // The network configuration only now: containerd reports the network ready once it exists.
      await writeFile(join(cniConfDir, "10-qs-e2e.conflist"), cniConfig(network, join(dir, "cni", "ipam")));

      const kubeletDir = join(dir, "kubelet");
      await mkdir(kubeletDir, { recursive: true });
      await writeFile(join(kubeletDir, "config.yaml"), await kubeletConfig(socket, pki, network));
      processes.start("kubelet", toolPath("kubelet"), [
        `--config=${join(kubeletDir, "config.yaml")}`,
        `--kubeconfig=${cluster.kubeconfig}`,
        `--root-dir=${join(kubeletDir, "root")}`,
        `--cert-dir=${join(kubeletDir, "pki")}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${network.gateway}`,
        "--v=1",
      ]);
      await waitFor(
        async () => {
          const status = await cluster.kubectl.json<{ status?: { conditions?: { type: string; status: string }[] } }>([
            "get",
            "node",
            NODE_NAME,
          ]);
          return status.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
        },
        {
          timeoutMs: 120_000,
          what: `node ${NODE_NAME} Ready`,
          abort: () => (processes.alive("kubelet") ? undefined : `kubelet exited; see ${processes.logPath("kubelet")}`),
        },
      );
    } catch (error) {
      await node.cleanup();
      throw error;
    }
    return node;
  }

  /**
   * Stops every container, the kubelet and containerd, and removes what they left on the machine.
   * Idempotent, never throws; returns what it could not remove.
   */
  async cleanup(): Promise<string[]> {
    if (this.cleaned) return [];
    // The kubelet first, so it starts nothing new; then every task containerd runs for the node.
    await this.processes.stop("kubelet");
    const problems = this.killTasks();
    await this.processes.stop("containerd");
    return [...problems, ...this.removeLeftovers()];
  }

  /**
   * For the run's exit handler, where nothing asynchronous runs: kills the containers, then (the
   * caller having killed the kubelet and containerd) removes the rest.
   */
  cleanupNow(killProcesses: () => void): void {
    if (this.cleaned) return;
    this.killTasks();
    killProcesses();
    this.removeLeftovers();
  }

  private killTasks(): string[] {
    if (!existsSync(this.containerdSocket)) return [];
    const ctr = (args: string[]) => sh("ctr", ["--address", this.containerdSocket, "-n", "k8s.io", ...args]);
    try {
      const containers = ctr(["containers", "list", "--quiet"]).split("\n").filter(Boolean);
      for (const id of containers) this.containerIds.add(id);
      for (const id of containers) {
        try {
          ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
        } catch {
          // No task, or already stopped.
        }
      }
      for (const id of containers) {
        waitSync(() => {
          try {
            ctr(["tasks", "delete", "--force", id]);
            return true;
          } catch (error) {
            return String(error).includes("not found");
          }
        });
        try {
          ctr(["containers", "delete", id]);
        } catch {
          // Gone with its task.
        }
      }
      return [];
    } catch (error) {
      return [`containers: ${String(error).split("\n")[0]}`];
    }
  }

  private removeLeftovers(): string[] {
    this.cleaned = true;
    const problems: string[] = [];
    const attempt = (what: string, work: () => void) => {
      try {
        work();
      } catch (error) {
        problems.push(`${what}: ${String(error).split("\n")[0]}`);
      }
    };
    // Shims outlive containerd by design; they are found by the run's own socket path.
    attempt("shims", () => {
      for (const pid of processesMentioning(this.containerdSocket)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
    });
    attempt("mounts", () => {
      for (const mountPoint of mountsUnder(this.dir)) sh("umount", ["-l", mountPoint]);
    });
    attempt("network namespaces", () => {
      for (const netns of listNetns()) {
        if (!this.netnsBefore.has(netns) && netns.startsWith("cni-")) sh("ip", ["netns", "delete", netns]);
      }
    });
    attempt("bridge", () => {
      if (linkExists(this.network.bridge)) sh("ip", ["link", "delete", this.network.bridge]);
    });
    for (const [tool, before] of this.iptablesBefore) attempt(tool, () => restoreIptables(tool, before));
    attempt("pod logs", () => {
      for (const root of ["/var/log/pods", "/var/log/containers"]) {
        if (!existsSync(root)) continue;
        for (const entry of readdirSync(root)) {
          // /var/log/pods/<namespace>_<pod>_<uid>, /var/log/containers/<pod>_<namespace>_<container>-<id>.log
          if (this.namespaces.some((ns) => entry.startsWith(`${ns}_`) || entry.includes(`_${ns}_`))) {
            rmSync(join(root, entry), { recursive: true, force: true });
          }
        }
      }
    });
    attempt("CNI cache", () => {
      const results = "/var/lib/cni/results";
      if (!existsSync(results)) return;
      // <network>-<sandbox>-eth0 for the bridge, cni-loopback-<sandbox>-lo for the pod's loopback.
      for (const entry of readdirSync(results)) {
        const loopback = /^cni-loopback-([0-9a-f]+)-lo$/.exec(entry)?.[1];
        if (entry.startsWith(`${cniNetworkName(this.network)}-`) || (loopback && this.containerIds.has(loopback))) {
          rmSync(join(results, entry), { force: true });
        }
      }
    });
    return problems;
  }

  /** Left over from this run after cleanup(): what the run's closing check prints. */
  leftovers(): string[] {
    const left: string[] = [];
    if (linkExists(this.network.bridge)) left.push(`bridge ${this.network.bridge}`);
    for (const netns of listNetns()) if (!this.netnsBefore.has(netns)) left.push(`netns ${netns}`);
    for (const mountPoint of mountsUnder(this.dir)) left.push(`mount ${mountPoint}`);
    for (const pid of processesMentioning(this.containerdSocket)) left.push(`process ${pid}`);
    return left;
  }
}

function sh(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
}

function waitSync(done: () => boolean, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) execFileSync("sleep", ["0.2"]);
}

/** A /24 and a bridge name derived from the process id, so two runs on one machine differ. */
function pickNetwork(): NodeNetwork {
  for (let offset = 0; offset < 200; offset++) {
    const third = ((process.pid + offset) % 200) + 20;
    const subnet = `10.213.${third}.0/24`;
    const bridge = `qse2e${third}`;
    const routes = sh("ip", ["-4", "route", "show"]);
    if (!routes.includes(`10.213.${third}.`) && !linkExists(bridge)) {
      return { bridge, subnet, gateway: `10.213.${third}.1` };
    }
  }
  throw new Error("no free 10.213.x.0/24 for the node's bridge");
}

function cniNetworkName(network: NodeNetwork): string {
  return `qs-e2e-${network.bridge}`;
}

function linkExists(name: string): boolean {
  try {
    sh("ip", ["link", "show", name]);
    return true;
  } catch {
    return false;
  }
}

function listNetns(): string[] {
  return existsSync("/var/run/netns") ? readdirSync("/var/run/netns") : [];
}

function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((mountPoint): mountPoint is string => mountPoint !== undefined && mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

function iptablesSave(tool: string): string {
  try {
    return sh(`${tool}-save`, []);
  } catch {
    return "";
  }
}

/**
 * Deletes the rules and chains that appeared since `before` (the kubelet's own chains, should it
 * make any), table by table; rules and chains of others that existed before stay.
 */
function restoreIptables(tool: string, before: string): void {
  const parse = (dump: string) => {
    const tables = new Map<string, { chains: Set<string>; rules: string[] }>();
    let current: { chains: Set<string>; rules: string[] } | undefined;
    for (const line of dump.split("\n")) {
      if (line.startsWith("*")) {
        current = { chains: new Set(), rules: [] };
        tables.set(line.slice(1), current);
      } else if (line.startsWith(":") && current) current.chains.add(line.slice(1).split(" ")[0] ?? "");
      else if (line.startsWith("-A ") && current) current.rules.push(line);
    }
    return tables;
  };
  const old = parse(before);
  const now = parse(iptablesSave(tool));
  for (const [table, { chains, rules }] of now) {
    const previous = old.get(table) ?? { chains: new Set<string>(), rules: [] };
    for (const rule of rules.filter((rule) => !previous.rules.includes(rule)).reverse()) {
      sh("sh", ["-c", `${tool} -t ${table} -D ${rule.slice(3)}`]);
    }
    const added = [...chains].filter((chain) => !previous.chains.has(chain));
    for (const chain of added) sh(tool, ["-t", table, "-F", chain]);
    for (const chain of added) sh(tool, ["-t", table, "-X", chain]);
  }
}

function containerdConfig(dir: string, cniConfDir: string): string {
  return `version = 2
root = "${join(dir, "root")}"
state = "${join(dir, "state")}"

[grpc]
  address = "${join(dir, "containerd.sock")}"

[ttrpc]
  address = "${join(dir, "containerd.sock.ttrpc")}"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  # The real pause image cannot be pulled here: a stand-in whose process only waits.
  sandbox_image = "${PAUSE_IMAGE}"
  # Without CAP_SYS_RESOURCE runc cannot give the sandbox its negative oom_score_adj.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${cniConfDir}"
`;
}

function cniConfig(network: NodeNetwork, ipamDir: string): string {
  return JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: cniNetworkName(network),
      plugins: [
        {
          type: "bridge",
          bridge: network.bridge,
          isGateway: true,
          // No masquerading: pods talk only to this machine (the relays on the gateway address).
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: network.subnet, gateway: network.gateway }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: ipamDir,
          },
        },
      ],
    },
    null,
    2,
  );
}

async function kubeletConfig(socket: string, pki: Pki, network: NodeNetwork): Promise<string> {
  const config = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // No systemd here, and the machine's cgroups are v1 (hybrid).
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    failSwapOn: false,
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    localStorageCapacityIsolation: false,
    containerRuntimeEndpoint: `unix://${socket}`,
    imageServiceEndpoint: `unix://${socket}`,
    address: network.gateway,
    port: await freePort(),
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: await freePort(),
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: pki.ca.cert },
    },
    authorization: { mode: "AlwaysAllow" },
    // The kubelet's iptables "utility chains" are for kube-proxy set-ups; none here.
    makeIPTablesUtilChains: false,
    // The images were imported and can never be pulled again: never collect them, never evict
    // for the disk the other users of the machine fill.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    serializeImagePulls: false,
    nodeStatusUpdateFrequency: "5s",
    syncFrequency: "10s",
    resolvConf: "/etc/resolv.conf",
    // In-place resize (beta, on by default in 1.33) reads the pod-level cgroup, which does not
    // exist without cgroupsPerQOS: the kubelet panicked in doPodResizeAction mid-run.
    featureGates: { InPlacePodVerticalScaling: false },
  };
  return JSON.stringify(config, null, 2);
}
