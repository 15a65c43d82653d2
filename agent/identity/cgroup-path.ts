// Container id and Kubernetes pod UID from a process's cgroup membership
// (/proc/PID/cgroup), for cgroup v1, v2 and hybrid hosts. Container runtimes
// name the cgroup they create after the container id; kubelet names the pod's
// cgroup after the pod UID. Both with the systemd driver (`docker-<id>.scope`,
// `kubepods-burstable-pod<uid>.slice`) and the cgroupfs one (`/docker/<id>`,
// `/kubepods/burstable/pod<uid>/<id>`).

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman';

export interface CgroupIdentity {
  /** The path used for naming rules: the v2 path, else the first non-root v1 path. */
  path: string;
  /** 64 hex digits. */
  containerId?: string;
  /** Unknown when the path shows only a bare id (cgroupfs driver under kubepods). */
  runtime?: ContainerRuntime;
  /** Dashed UUID form. */
  podUid?: string;
}

const RUNTIME_PREFIXES: Record<string, ContainerRuntime> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  libpod: 'podman',
};

// `<prefix>-<id>.scope` (systemd driver) or a bare `<id>` segment (cgroupfs driver).
// conmon's own scopes (`crio-conmon-<id>`, `libpod-conmon-<id>`) do not match: conmon is not the container.
const CONTAINER_SEGMENT = /^(?:(docker|cri-containerd|crio|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;
const UUID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
// `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid_with_underscores>.slice` (systemd).
const POD_SEGMENT = new RegExp(`^(?:pod|kubepods(?:-(?:besteffort|burstable|guaranteed))?-pod)(${UUID})(?:\\.slice)?$`);

/** Finds the container and pod in one cgroup path. */
export function identityOfPath(path: string): Omit<CgroupIdentity, 'path'> {
  const found: Omit<CgroupIdentity, 'path'> = {};
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const pod = POD_SEGMENT.exec(segment);
    if (pod) {
      found.podUid = pod[1]!.replaceAll('_', '-');
      continue;
    }
    const container = CONTAINER_SEGMENT.exec(segment);
    if (!container) continue;
    // The outermost match wins: podman's nested `libpod-<id>.scope/container` keeps its id.
    if (found.containerId) continue;
    found.containerId = container[2]!;
    const runtime = container[1] ? RUNTIME_PREFIXES[container[1]] : segments[i - 1] === 'docker' ? 'docker' : undefined;
    if (runtime) found.runtime = runtime;
  }
  return found;
}

/**
 * Parses the text of /proc/PID/cgroup (`hierarchy:controllers:path` per line).
 * The v2 line (`0::`) is preferred; on hybrid hosts a v1 hierarchy may be the
 * only one that carries the container. Malformed lines are skipped.
 */
export function parseProcCgroup(text: string): CgroupIdentity {
  let v2Path: string | undefined;
  let firstV1Path: string | undefined;
  const v1Paths: string[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const path = line.slice(second + 1);
    if (!path.startsWith('/')) continue;
    if (line.slice(0, first) === '0' && second === first + 1) {
      v2Path = path;
    } else {
      v1Paths.push(path);
      if (firstV1Path === undefined && path !== '/') firstV1Path = path;
    }
  }
  const path = v2Path !== undefined && v2Path !== '/' ? v2Path : (firstV1Path ?? v2Path ?? '/');
  let podOnly: CgroupIdentity | undefined;
  for (const candidate of [v2Path, ...v1Paths]) {
    if (candidate === undefined || candidate === '/') continue;
    const found = identityOfPath(candidate);
    if (found.containerId) return { path: candidate, ...found };
    if (found.podUid) podOnly ??= { path: candidate, ...found };
  }
  return podOnly ?? { path };
}

/** The 12-digit short form people know from `docker ps`. */
export function shortContainerId(id: string): string {
  return id.slice(0, 12);
}
