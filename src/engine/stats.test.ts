import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WhaleboxError } from '../util/errors.js';
import { parseMemTotal, parseNetDev, parseProcStat, parsePsOutput } from './stats.js';

describe('host counters', () => {
  it('/proc/stat: the first seven fields of the cpu line in nanoseconds, and the online CPUs', () => {
    const text = 'cpu  100 1 50 800 10 2 3 7 0 0\ncpu0 50 0 25 400 5 1 2 4 0 0\ncpu1 50 1 25 400 5 1 1 3 0 0\nintr 12345\nctxt 6789\n';
    assert.deepEqual(parseProcStat(text), { nanos: 966 * 10_000_000, onlineCpus: 2 });
  });

  it('/proc/PID/net/dev: bytes received and sent, loopback left out', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:  123456     100    0    0    0     0          0         0   123456     100    0    0    0     0       0          0',
      '  eth0:    1050      10    0    0    0     0          0         0      648       8    0    0    0     0       0          0',
      '  eth1:10        1    0    0    0     0          0         0       2       1    0    0    0     0       0          0',
      '',
    ].join('\n');
    assert.deepEqual(parseNetDev(text), { rx: 1060, tx: 650 });
    assert.deepEqual(parseNetDev(''), { rx: 0, tx: 0 });
  });

  it('/proc/meminfo: MemTotal in bytes', () => {
    assert.equal(parseMemTotal('MemTotal:       24684092 kB\nMemFree:         1000 kB\n'), 24684092 * 1024);
  });
});

describe('parsePsOutput', () => {
  const PS = [
    'UID          PID    PPID  C STIME TTY          TIME CMD',
    'root           1       0  0 10:00 ?        00:00:01 /sbin/init',
    'root        4242    4241 99 10:01 ?        00:01:00 sh -c while :; do :; done',
    'root        4243    4242  0 10:01 ?        00:00:00 sleep 1000',
    '',
  ].join('\n');

  it("keeps the header and the container's rows; the command keeps its spaces", () => {
    assert.deepEqual(parsePsOutput(PS, [4242, 4243]), {
      titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      processes: [
        ['root', '4242', '4241', '99', '10:01', '?', '00:01:00', 'sh -c while :; do :; done'],
        ['root', '4243', '4242', '0', '10:01', '?', '00:00:00', 'sleep 1000'],
      ],
    });
  });

  it('keeps thread rows (ps -m: PID "-") with the process above them', () => {
    const threads = 'PID TTY TIME CMD\n1 ? 00:00:01 init\n- - 00:00:01 -\n4242 ? 00:01:00 sh\n- - 00:01:00 -\n';
    assert.deepEqual(parsePsOutput(threads, [4242]).processes, [['4242', '?', '00:01:00', 'sh'], ['-', '-', '00:01:00', '-']]);
  });

  it('needs a PID column', () => {
    assert.throws(() => parsePsOutput('USER COMMAND\nroot init\n', [1]), (err) => err instanceof WhaleboxError && /Couldn't find PID field/.test(err.message));
  });
});
