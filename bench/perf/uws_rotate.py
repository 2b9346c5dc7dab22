#!/usr/bin/env python3
# uws_rotate.py CONNS SIZE ROUNDS KIND...: like uws_echo.py, but every server (uws or a ringpad BIN_DIR) is up at
# once on CPU 0, each with its own load_test on CPU 1, and the loads take turns (SIGSTOP/SIGCONT) in 2 s windows,
# so all servers see the same neighbours on a shared machine. A first round warms up. Per window: server CPU
# (utime+stime) and messages (bytes the server's sockets received, from ss, / the client's frame size); prints
# the median of ROUNDS windows per server. uWS runs EchoServerQuiet (UWS_DIR, see README.md): automatic pings
# off, since a ping sent while its load_test is stopped breaks load_test's byte count.
import os, sys, subprocess, time, random, signal, statistics, tempfile, shutil, urllib.request, re, socket
n, size, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]); kinds = sys.argv[4:]
WIN = 2.0
UWS = os.environ.get('UWS_DIR', '/tmp/uws')
d = tempfile.mkdtemp(dir='/tmp')
def free_port():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); p = s.getsockname()[1]; s.close(); return p
def start(kind, i):
    port = free_port()
    if kind == 'uws':
        srv = subprocess.Popen(['taskset','-c','0','./EchoServerQuiet'], cwd=UWS, env=dict(os.environ, PORT=str(port)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); time.sleep(0.5)
    else:
        srv = subprocess.Popen(['taskset','-c','0',kind+'/ringpad','--port',str(port),'--data-dir','%s/%d'%(d,i),'--log-level','warn','--threads','1','--enable-echo','--no-deflate','--max-messages-per-sec','0'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            try: urllib.request.urlopen('http://127.0.0.1:%d/healthz'%port, timeout=1); break
            except Exception: time.sleep(0.1)
    return srv, None, port
def load(port):
    return subprocess.Popen(['taskset','-c','1',UWS + '/load_test',n,'127.0.0.1',str(port),'0','0',str(size)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def ticks(p):
    f = open('/proc/%d/stat'%p.pid).read().rsplit(')',1)[1].split(); return int(f[11])+int(f[12])
client_frame = size + 4 + (2 if size < 126 else 4 if size < 65536 else 10)
def rx(port):
    out = subprocess.run(['ss','-tinH','state','established','sport = :%d'%port], capture_output=True, text=True).stdout
    return sum(int(x) for x in re.findall(r'bytes_received:(\d+)', out))
srv = [list(start(k, i)) for i, k in enumerate(kinds)]
res = [[] for _ in kinds]
try:
    for r in range(rounds + 1):
        order = list(range(len(kinds))) if r % 2 == 0 else list(reversed(range(len(kinds))))
        for i in order:
            s, l, p = srv[i]
            if l is None: l = srv[i][1] = load(p)
            l.send_signal(signal.SIGCONT); time.sleep(0.5 if r else 2.0)
            t0, b0 = ticks(s), rx(p); time.sleep(WIN); t1, b1 = ticks(s), rx(p)
            l.send_signal(signal.SIGSTOP)
            m = (b1 - b0) / client_frame
            if r: res[i].append(((t1-t0)*1e4/max(1,m), m/WIN))   # round 0 warms up
finally:
    for s, l, p in srv:
        if l is not None: l.send_signal(signal.SIGCONT); l.kill(); l.wait()
    for s, l, p in srv: s.terminate(); s.wait()
    shutil.rmtree(d, ignore_errors=True)
for k, rr in zip(kinds, res):
    name = 'uws' if k == 'uws' else k.rstrip('/').split('/')[-2]
    print('%-10s conns=%s bytes=%d us/msg=%.2f msg/s=%.0f  us=%s' % (name, n, size, statistics.median(x[0] for x in rr), statistics.median(x[1] for x in rr), [round(x[0],2) for x in rr]))
