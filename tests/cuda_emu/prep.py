"""Copies core/cuda for the emulator, turning kernel<<<grid, block, smem, stream>>>(args)
into emu_launch(kernel, grid, block, smem, stream, args) (see README.md)."""
import os
import sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)

def split_top(s):
    """splits a launch configuration at its top-level commas"""
    parts, depth, cur = [], 0, ''
    for ch in s:
        if ch in '([{':
            depth += 1
        if ch in ')]}':
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]

def convert(text):
    out = ''
    i = 0
    while True:
        j = text.find('<<<', i)
        if j < 0:
            out += text[i:]; break
        # kernel name: identifier possibly followed by <...>
        k = j
        if text[k-1] == '>':
            depth = 0; k -= 1
            while True:
                if text[k] == '>': depth += 1
                elif text[k] == '<': depth -= 1
                if depth == 0: break
                k -= 1
        k2 = k
        while k2 > 0 and (text[k2-1].isalnum() or text[k2-1] == '_'):
            k2 -= 1
        name = text[k2:j]
        e = text.index('>>>', j)
        cfg = split_top(text[j+3:e])
        while len(cfg) < 4:
            cfg.append('0' if len(cfg) == 2 else 'nullptr')
        # args
        a = e + 3
        while text[a] in ' \n': a += 1
        assert text[a] == '(', text[a-20:a+20]
        depth = 0; b = a
        while True:
            if text[b] == '(': depth += 1
            elif text[b] == ')':
                depth -= 1
                if depth == 0: break
            b += 1
        args = text[a+1:b].strip()
        call = 'emu_launch(%s, dim3(%s), dim3(%s), (size_t)(%s), %s%s)' % (name, cfg[0], cfg[1], cfg[2], cfg[3], (', ' + args) if args else '')
        out += text[i:k2] + call
        i = b + 1
    return out

for f in os.listdir(src):
    t = open(os.path.join(src, f)).read()
    t = t.replace('extern __shared__ float4 nl_dyn_smem[];', '/* emu: the global nl_dyn_smem pointer */')
    t = convert(t)
    name = f.replace('.cu', '.cpp') if f.endswith('.cu') else f
    open(os.path.join(dst, name), 'w').write(t)
