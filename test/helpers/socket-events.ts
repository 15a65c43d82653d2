// Capture events as the kernel engine delivers them, for pipeline tests without a kernel:
// curl (pid 100, fd 5) on 127.0.0.1:40000 calling 127.0.0.1:8080 unless overridden.
import type { ConnOpenEvent, DataEvent } from '../../agent/capture/socket-event.js';

export const openEvent = (over: Partial<ConnOpenEvent> = {}): ConnOpenEvent => ({
  kind: 'open', tgid: 100, tid: 100, fd: 5, connGen: 1, tsNs: 1_000, role: 'client', preexisting: false, family: 4,
  localIp: '127.0.0.1', localPort: 40000, remoteIp: '127.0.0.1', remotePort: 8080, comm: 'curl', uid: 0, cgroupId: 1, ...over,
});

/** HTTP/1 payload at byte position `pos` of one direction, captured at 2,000 ns + pos unless overridden. */
export function dataEvent(direction: 'egress' | 'ingress', pos: number, text: string, over: Partial<DataEvent> = {}): DataEvent {
  const payload = Buffer.from(text, 'latin1');
  return {
    kind: 'data', tgid: 100, tid: 100, fd: 5, connGen: 1, tsNs: 2_000 + pos, direction, source: 'syscall', protocol: 'http1',
    pos, len: payload.length, payload, ...over,
  };
}
