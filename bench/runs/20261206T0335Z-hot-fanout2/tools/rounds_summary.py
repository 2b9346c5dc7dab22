# Per trace: the last reader of each round and how long each edit waited for the previous ack (p50, p90).
# usage: rounds_summary.py FILE.0 ...
import sys, collections, bisect, statistics as st
for fn in sys.argv[1:]:
    rows=[tuple(map(int,l.split())) for l in open(fn)]
    ops=collections.defaultdict(list); sends=[]
    for now,lat,idx,kind in rows:
        if kind==2: ops[now-lat].append(now)
        elif kind==3: sends.append(now)
    ks=sorted(ops)
    last=[]; wait=[]
    for k in ks:
        d=ops[k]; last.append((max(d)-k)/1000)
        si=bisect.bisect_left(sends,k)
        if si<len(sends): wait.append((sends[si]-k)/1000)
    last.sort(); wait.sort()
    q=lambda a,p: a[min(len(a)-1,int(len(a)*p))]
    print("%s rounds %d last-reader p50 %.1f p90 %.1f | edit waited for the previous ack: p50 %.2f p90 %.1f ms"%(fn.split('/')[-1],len(ks),q(last,.5),q(last,.9),q(wait,.5),q(wait,.9)))
