#!/usr/bin/env python3
"""Decodes the opts_* C string literals of bpftool light-skeleton headers into raw files.

usage: decode_lskel.py SRC_DIR OUT_DIR  (SRC_DIR holds p1-libbpf170.h, p1b.h, p2.h, unsigned.h)
Writes data.bin (checked identical across headers) and <variant>.{insns,sig,excl}.
"""
import os, re, sys

def literal(text, name):
    m = re.search(r'static const char %s\[\] __attribute__\(\(__aligned__\(8\)\)\) = "(.*?)";' % name, text, re.S)
    if not m:
        return None
    body = m.group(1).replace('\\\n', '')
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != '\\':
            out.append(ord(c)); i += 1; continue
        n = body[i + 1]
        if n == 'x':
            out.append(int(body[i + 2:i + 4], 16)); i += 4
        elif n == '0':
            out.append(0); i += 2
        else:
            raise SystemExit('unexpected escape \\%s in %s' % (n, name))
    return bytes(out)

src, dst = sys.argv[1], sys.argv[2]
data = None
for variant in ['p1-libbpf170', 'p1b', 'p2', 'unsigned']:
    text = open(os.path.join(src, variant + '.h')).read()
    d = literal(text, 'opts_data')
    if data is None:
        data = d
    elif d != data:
        raise SystemExit('data blob of %s differs' % variant)
    for name, ext in [('opts_insn', 'insns'), ('opts_sig', 'sig'), ('opts_excl_hash', 'excl')]:
        v = literal(text, name)
        if v is not None:
            open(os.path.join(dst, '%s.%s' % (variant, ext)), 'wb').write(v)
open(os.path.join(dst, 'data.bin'), 'wb').write(data)
