// /proc/PID/cgroup contents in the shapes real hosts produce: cgroup v2
// (systemd and cgroupfs drivers), v1 and hybrid hosts, for docker,
// containerd/CRI, cri-o, podman and kubelet's pod slices.
import { describe, expect, it } from 'vitest';
import { identityOfPath, parseProcCgroup, shortContainerId } from '../../../agent/identity/cgroup-path.js';

const ID = '3f4e1c7a9b2d8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071';
const POD = '7a1c3e5f-2b4d-4f6a-8c0e-1d3f5a7b9c2e';
const POD_UNDERSCORES = POD.replaceAll('-', '_');

describe('parseProcCgroup', () => {
  const cases: { name: string; text: string; expected: ReturnType<typeof parseProcCgroup> }[] = [
    {
      name: 'docker with the systemd driver on cgroup v2',
      text: `0::/system.slice/docker-${ID}.scope\n`,
      expected: { path: `/system.slice/docker-${ID}.scope`, containerId: ID, runtime: 'docker' },
    },
    {
      name: 'docker with the cgroupfs driver on cgroup v1',
      text: [
        `12:pids:/docker/${ID}`,
        `11:memory:/docker/${ID}`,
        `4:cpu,cpuacct:/docker/${ID}`,
        `1:name=systemd:/docker/${ID}`,
        '0::/system.slice/containerd.service',
        '',
      ].join('\n'),
      expected: { path: `/docker/${ID}`, containerId: ID, runtime: 'docker' },
    },
    {
      name: 'a Kubernetes pod under containerd with the systemd driver',
      text: `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_UNDERSCORES}.slice/cri-containerd-${ID}.scope\n`,
      expected: {
        path: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_UNDERSCORES}.slice/cri-containerd-${ID}.scope`,
        containerId: ID,
        runtime: 'containerd',
        podUid: POD,
      },
    },
    {
      name: 'a guaranteed-QoS pod (no QoS slice) under cri-o',
      text: `0::/kubepods.slice/kubepods-pod${POD_UNDERSCORES}.slice/crio-${ID}.scope\n`,
      expected: { path: `/kubepods.slice/kubepods-pod${POD_UNDERSCORES}.slice/crio-${ID}.scope`, containerId: ID, runtime: 'cri-o', podUid: POD },
    },
    {
      name: 'a burstable pod with the cgroupfs driver (bare id, runtime unknown)',
      text: `0::/kubepods/burstable/pod${POD}/${ID}\n`,
      expected: { path: `/kubepods/burstable/pod${POD}/${ID}`, containerId: ID, podUid: POD },
    },
    {
      name: 'a pod on a cgroup v1 host, containerd, cgroupfs driver',
      text: [
        `11:memory:/kubepods/besteffort/pod${POD}/${ID}`,
        `10:cpu,cpuacct:/kubepods/besteffort/pod${POD}/${ID}`,
        `1:name=systemd:/kubepods/besteffort/pod${POD}/${ID}`,
        '',
      ].join('\n'),
      expected: { path: `/kubepods/besteffort/pod${POD}/${ID}`, containerId: ID, podUid: POD },
    },
    {
      name: 'rootful podman with a nested container cgroup (cgroupns)',
      text: `0::/machine.slice/libpod-${ID}.scope/container\n`,
      expected: { path: `/machine.slice/libpod-${ID}.scope/container`, containerId: ID, runtime: 'podman' },
    },
    {
      name: 'rootless podman under the user slice',
      text: `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope\n`,
      expected: { path: `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, containerId: ID, runtime: 'podman' },
    },
    {
      name: "conmon's own scope is not the container",
      text: `0::/machine.slice/libpod-conmon-${ID}.scope\n`,
      expected: { path: `/machine.slice/libpod-conmon-${ID}.scope` },
    },
    {
      name: 'a hybrid host where only a v1 hierarchy carries the container',
      text: ['9:name=systemd:/', `4:memory:/docker/${ID}`, '1:cpu:/', '0::/', ''].join('\n'),
      expected: { path: `/docker/${ID}`, containerId: ID, runtime: 'docker' },
    },
    {
      name: 'a plain systemd service',
      text: '0::/system.slice/nginx.service\n',
      expected: { path: '/system.slice/nginx.service' },
    },
    {
      name: 'a hybrid host with no container: the first non-root path names it',
      text: ['9:name=systemd:/', '4:memory:/process_api/1cd3a5902d2908641b713b1a879cb536', '0::/', ''].join('\n'),
      expected: { path: '/process_api/1cd3a5902d2908641b713b1a879cb536' },
    },
    {
      name: 'the root cgroup',
      text: '0::/\n',
      expected: { path: '/' },
    },
    {
      name: 'garbage and truncated lines',
      text: 'not a cgroup line\n0:\n::\n3:cpu:relative/path\n',
      expected: { path: '/' },
    },
    {
      name: 'an empty file (process gone while reading)',
      text: '',
      expected: { path: '/' },
    },
  ];
  for (const c of cases) {
    it(`reads ${c.name}`, () => {
      expect(parseProcCgroup(c.text)).toEqual(c.expected);
    });
  }

  it('does not take a 63- or 65-digit hex run for a container id', () => {
    expect(identityOfPath(`/docker/${ID.slice(1)}`)).toEqual({});
    expect(identityOfPath(`/docker/${ID}0`)).toEqual({});
  });

  it('does not take upper-case hex (runtimes write lower case) or a non-UUID pod segment', () => {
    expect(identityOfPath(`/docker/${ID.toUpperCase()}`)).toEqual({});
    expect(identityOfPath('/kubepods/burstable/podcast')).toEqual({});
  });

  it('shortens ids to the 12 digits docker prints', () => {
    expect(shortContainerId(ID)).toBe('3f4e1c7a9b2d');
  });
});
