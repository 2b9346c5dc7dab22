# Where each op's ack fell among its deliveries (first, last, middle) in a trace of tools/loadgen-op-trace.patch.
# usage: ack_order.py FILE.0
import sys, collections
rows=[tuple(map(int,l.split())) for l in open(sys.argv[1])]
ops=collections.defaultdict(list); acks={}
for now,lat,idx,kind in rows:
    if kind==2: ops[now-lat].append(now)
    elif kind==1: acks[now-lat]=now
ks=sorted(ops)
first=0; last=0; mid=0; lat_first=[]; lat_last=[]
for k in ks:
    if k not in acks: continue
    a=acks[k]; d=ops[k]; before=sum(1 for x in d if x<a)/len(d)
    L=(max(d)-k)/1000
    if before<0.05: first+=1; lat_first.append(L)
    elif before>0.95: last+=1; lat_last.append(L)
    else: mid+=1
import statistics as st
print("ack first %d (median last-delivery %.1f ms), ack last %d (%.1f ms), middle %d"%(first, st.median(lat_first) if lat_first else 0, last, st.median(lat_last) if lat_last else 0, mid))
