#!/usr/bin/env python3
# summarize.py rotate.txt rotate-2.txt: rows from uws_rotate.py output files, windows pooled; medians and paired per-window ratios
import sys, re, statistics as st
rows = {}
for f in sys.argv[1:]:
    for l in open(f):
        m = re.match(r'(\S+)\s+conns=(\d+) bytes=(\d+) us/msg=([\d.]+) msg/s=(\d+)\s+us=\[(.*)\]', l)
        if not m: continue
        kind = {'rp-after2': 'after', 'rp-before': 'before', 'uws': 'uws'}.get(m.group(1), m.group(1))
        d = rows.setdefault((int(m.group(2)), int(m.group(3))), {}).setdefault(kind, {'us': [], 'rate': []})
        d['us'] += [float(x) for x in m.group(6).split(',')]
        d['rate'].append(int(m.group(5)))
print('| connections × size | uWS µs/msg | before µs/msg | after µs/msg | after / before | **uWS / after** (≥ 1.1 wanted) | msg/s uWS / before / after |')
print('|---|---:|---:|---:|---:|---:|---|')
for (n, s), d in sorted(rows.items()):
    u, b, a = d['uws'], d['before'], d['after']
    ab = st.median([y / x for x, y in zip(b['us'], a['us'])]); ua = st.median([x / y for x, y in zip(u['us'], a['us'])])
    sz = '%d B' % s if s < 1024 else '%d KiB' % (s // 1024)
    verdict = 'met' if ua >= 1.1 else 'not met'
    print('| %s × %s | %.2f | %.2f | %.2f | %.2f | **%.2f** %s | %d k / %d k / %d k |' % (f'{n:,}', sz, st.median(u['us']), st.median(b['us']), st.median(a['us']), ab, ua, verdict,
          st.median(u['rate']) // 1000, st.median(b['rate']) // 1000, st.median(a['rate']) // 1000))
