# Per-op rounds from a trace of bench/loadgen with tools/loadgen-op-trace.patch (LG_TRACE=FILE):
# usage: op_rounds.py FILE.0 FROM_S TO_S
import sys, collections, bisect
rows=[tuple(map(int,l.split())) for l in open(sys.argv[1])]
ops=collections.defaultdict(list); acks={}; sends=[]; its=[]
for now,lat,idx,kind in rows:
    if kind==2: ops[now-lat].append(now)
    elif kind==1: acks[now-lat]=now
    elif kind==3: sends.append(now)
    elif kind==4: its.append((now,lat,idx))
ks=sorted(ops); t0=ks[0]
lo,hi=float(sys.argv[2]),float(sys.argv[3])
itn=[i[0] for i in its]
for k in ks:
    if not (lo <= (k-t0)/1e6 < hi): continue
    d=sorted(ops[k]); n=len(d)
    si=bisect.bisect_left(sends,k); s=sends[si]-k if si<len(sends) else -1
    a=acks.get(k,0)-k
    # loadgen iterations between first and last delivery
    i0=bisect.bisect_left(itn,d[0]-200); i1=bisect.bisect_left(itn,d[-1])
    busy=sum(l for t,l,c in its[i0:i1+1]); nit=i1-i0+1
    print("t=%.3f send+%.2f ack+%.2f d0 %.2f d10 %.2f d50 %.2f d90 %.2f d99 %.2f last %.2f  loadgen iters %d userbusy %.2f ms"%((k-t0)/1e6,s/1000,a/1000,(d[0]-k)/1000,(d[n//10]-k)/1000,(d[n//2]-k)/1000,(d[n*9//10]-k)/1000,(d[n*99//100]-k)/1000,(d[-1]-k)/1000,nit,busy/1000))
