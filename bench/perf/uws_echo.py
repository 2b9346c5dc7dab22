#!/usr/bin/env python3
# uws_echo.py uws|BIN_DIR CONNS BYTES [SAMPLES]: uWebSockets' own load tool against its EchoServer or ringpad /echo,
# the server pinned to CPU 0 and the load tool to CPU 1 (UWS_DIR: where both were built, see README.md);
# per 4 s sample: msg/s and server CPU (utime+stime) per message; prints medians.
import os, sys, subprocess, time, random, statistics, tempfile, shutil, urllib.request
UWS = os.environ.get('UWS_DIR', '/tmp/uws')
kind, n, size = sys.argv[1], sys.argv[2], sys.argv[3]
samples = int(sys.argv[4]) if len(sys.argv) > 4 else 3
port = 40000 + random.randrange(5000)
d = tempfile.mkdtemp(dir='/tmp')
if kind == 'uws':
    srv = subprocess.Popen(['taskset', '-c', '0', './EchoServer'], cwd=UWS, env=dict(os.environ, PORT=str(port)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
else:
    srv = subprocess.Popen(['taskset', '-c', '0', kind + '/ringpad', '--port', str(port), '--data-dir', d + '/data', '--log-level', 'warn',
                            '--threads', '1', '--enable-echo', '--no-deflate', '--max-messages-per-sec', '0'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port, timeout=1); break
        except Exception: time.sleep(0.1)
def ticks():
    f = open('/proc/%d/stat' % srv.pid).read().rsplit(')', 1)[1].split()
    return int(f[11]) + int(f[12])
lt = subprocess.Popen(['stdbuf', '-oL', 'taskset', '-c', '1', UWS + '/load_test', n, '127.0.0.1', str(port), '0', '0', size],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
rates, cpus = [], []
last = None
for line in lt.stdout:
    if not line.startswith('Msg/sec'): continue
    t = ticks()
    if last is not None:
        r = float(line.split()[1])
        rates.append(r); cpus.append((t - last) * 1e4 / max(1, r * 4))
    last = t
    if len(rates) >= samples: break
lt.kill(); lt.wait(); srv.terminate(); srv.wait()
shutil.rmtree(d, ignore_errors=True)
if not rates:
    sys.exit('no sample from load_test (did it connect? is the port free?)')
name = 'uws' if kind == 'uws' else kind.rstrip('/').split('/')[-2]
print('%s conns=%s bytes=%s msg/s=%.0f cpu_us/msg=%.2f samples=%s cpu=%s' % (name, n, size, statistics.median(rates), statistics.median(cpus),
      [round(x / 1000) for x in rates], [round(x, 2) for x in cpus]))
