"""Copies a checkpoint and moves its weights by one bf16/f16 ulp (a random half of them; F32
weights by up to 0.4%), leaving norms, router and biases alone. Used to calibrate the GPU
model's parity bounds: cpu_self_deviation.cc runs the CPU engine on both and reports the
row-error statistics of the GPU parity test's protocol.

    python3 perturb_weights.py model/checkpoints/tiny-moe-bf16 /tmp/pert/tiny-moe-bf16 0.5
"""
import json,struct,glob,sys,shutil,random
from array import array
src,dst,frac=sys.argv[1],sys.argv[2],float(sys.argv[3])
shutil.copytree(src,dst,dirs_exist_ok=True)
random.seed(1)
for f in glob.glob(dst+'/*.safetensors'):
    b=bytearray(open(f,'rb').read()); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n])
    for k,v in h.items():
        if k=='__metadata__' or 'norm' in k or 'bias' in k or k.endswith('mlp.gate.weight') or 'scale_inv' in k: continue
        s,e=v['data_offsets']; s+=8+n; e+=8+n
        if v['dtype'] in ('BF16','F16'):
            a=array('H'); a.frombytes(bytes(b[s:e]))
            for i in range(len(a)):
                if random.random()<frac: a[i]^=1
            b[s:e]=a.tobytes()
        elif v['dtype']=='F32':
            a=array('f'); a.frombytes(bytes(b[s:e]))
            for i in range(len(a)): a[i]*=1+(random.random()-0.5)*0.008
            b[s:e]=a.tobytes()
        elif v['dtype']=='F8_E4M3':
            pass
    open(f,'wb').write(b)
