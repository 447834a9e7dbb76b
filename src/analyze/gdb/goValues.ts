/**
 * The gdb path's values in Go's notation, through the formatter Delve's path uses: a Python walk
 * (gdb's API, no runtime-gdb.py needed) turns each arg and local of the service's own frames into
 * the shape Delve sends (service/api Variable: kind, type, value, len, cap, children), which
 * formatVariable then prints. gdb's own text (`{wall = 0, ext = 63907954200, loc = 0x0}`, a string
 * that loses its invalid byte) is what `bt full` showed before.
 *
 * What the walk knows of Go's layout, checked on Go 1.26.8 + gdb 13.1: a string is a struct
 * {str, len}, a slice {array, len, cap}, an interface {tab, data} (or {_type, data}) whose
 * dynamic type is the name of the itab (`go:itab.*fmt.wrapError,error`) or type symbol gdb prints
 * beside the pointer; maps, channels and funcs are pointers whose type gdb names `map[...]`,
 * `chan ...`, `func(...)`. Maps show their length, not their entries (Go 1.24's swiss tables).
 */
import type { Variable } from "../../contracts/index.js";
import { type dlv, toVariable } from "../delve/index.js";
import type { GdbFrame } from "./parseGdb.js";

/**
 * One JSON line per frame of the service's code: `{"level": N, "args": [...], "locals": [...]}`.
 * Bounded as Delve's load configurations bound it: 6 levels of pointers and fields, 32 elements
 * (256 bytes of a []byte), 256 bytes of a string, and 4,000 values per frame, past which values
 * show as `{...}` or an address (a handler's frame can reach a whole server's state).
 */
const GO_VALUES_LINES = [
  "import gdb, json, base64",
  "K = dict(Bool=1, Int=2, Int8=3, Int16=4, Int32=5, Int64=6, Uint=7, Uint8=8, Uint16=9, Uint32=10, Uint64=11, Uintptr=12, Float32=13, Float64=14, Complex64=15, Complex128=16, Array=17, Chan=18, Func=19, Interface=20, Map=21, Ptr=22, Slice=23, String=24, Struct=25, UnsafePointer=26)",
  "NUM = {'int': 2, 'int8': 3, 'int16': 4, 'int32': 5, 'int64': 6, 'uint': 7, 'uint8': 8, 'uint16': 9, 'uint32': 10, 'uint64': 11, 'uintptr': 12, 'float32': 13, 'float64': 14}",
  "mem = gdb.selected_inferior()",
  "def tn(t):",
  "    s = str(t)",
  "    while s.endswith(' *'):",
  "        s = '*' + s[:-2]",
  "    return s",
  "def fields(st):",
  "    try:",
  "        return [f.name for f in st.fields()]",
  "    except Exception:",
  "        return []",
  "def base(name, t, addr, kind):",
  "    return {'name': name, 'addr': addr, 'onlyAddr': False, 'type': tn(t), 'realType': tn(t), 'flags': 0, 'kind': kind, 'value': '', 'len': 0, 'cap': 0, 'children': [], 'base': 0, 'unreadable': ''}",
  "def addr_of(v):",
  "    try:",
  "        return int(v.address) if v.address is not None else 0",
  "    except Exception:",
  "        return 0",
  "def concrete(tab, iface):",
  "    # go:itab.*fmt.wrapError,error / type:*main.T",
  "    s = str(tab)",
  "    i = s.find('<go:itab.') if iface else s.find('<type:')",
  "    if i < 0: return None",
  "    s = s[i + (9 if iface else 6):].rstrip('>')",
  "    if iface: s = s[:s.rfind(',')]",
  "    return s",
  "def lookup(name):",
  "    ptr = name.startswith('*')",
  "    try:",
  "        t = gdb.lookup_type(name[1:] if ptr else name)",
  "    except Exception:",
  "        return None, ptr",
  "    return t, ptr",
  "M64 = (1 << 64) - 1",
  "WALL_TO_INTERNAL = (1884 * 365 + 1884 // 4 - 1884 // 100 + 1884 // 400) * 86400",
  "UNIX_TO_INTERNAL = (1969 * 365 + 1969 // 4 - 1969 // 100 + 1969 // 400) * 86400",
  "def uptr(v):",
  "    return int(v.cast(gdb.lookup_type('uintptr')))",
  "def time_value(v):",
  "    # What Delve renders for a time.Time (RFC 3339 in its Location): time.go's wall/ext encoding,",
  "    # the offset from the Location's cached zone, else its transitions (zoneinfo.go lookup).",
  "    wall = int(v['wall']) & M64",
  "    ext = int(v['ext'])",
  "    sec = WALL_TO_INTERNAL + (((wall << 1) & M64) >> 31) if wall >> 63 else ext",
  "    unix = sec - UNIX_TO_INTERNAL",
  "    off = 0",
  "    if uptr(v['loc']) != 0:",
  "        l = v['loc'].dereference()",
  "        cz = l['cacheZone']",
  "        if uptr(cz) != 0 and int(l['cacheStart']) <= unix < int(l['cacheEnd']):",
  "            off = int(cz.dereference()['offset'])",
  "        else:",
  "            zones = l['zone']",
  "            tx = l['tx']",
  "            idx = 0",
  "            for i in range(int(tx['len'])):",
  "                t = tx['array'][i]",
  "                if int(t['when']) > unix: break",
  "                idx = int(t['index'])",
  "            if int(zones['len']) > idx: off = int(zones['array'][idx]['offset'])",
  "    import datetime",
  "    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=unix + off)",
  "    nsec = wall & ((1 << 30) - 1)",
  "    frac = ('.%09d' % nsec).rstrip('0') if nsec else ''",
  "    zone = 'Z' if uptr(v['loc']) == 0 else '%s%02d:%02d' % ('-' if off < 0 else '+', abs(off) // 3600, abs(off) % 3600 // 60)",
  "    return d.strftime('%Y-%m-%dT%H:%M:%S') + frac + zone",
  "def walk(name, v, depth):",
  "    global budget",
  "    budget -= 1",
  "    if budget <= 0: depth = 6",
  "    t = v.type",
  "    st = t.strip_typedefs()",
  "    code = st.code",
  "    a = addr_of(v)",
  "    nm = st.name or ''",
  "    try:",
  "        if code == gdb.TYPE_CODE_BOOL:",
  "            o = base(name, t, a, 1); o['value'] = 'true' if bool(v) else 'false'; return o",
  "        if code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_CHAR):",
  "            o = base(name, t, a, NUM.get(nm, 2 if st.is_signed else 7)); o['value'] = str(int(v)); return o",
  "        if code == gdb.TYPE_CODE_FLT:",
  "            o = base(name, t, a, NUM.get(nm, 14)); o['value'] = repr(float(v)); return o",
  "        if code == gdb.TYPE_CODE_PTR:",
  "            p = int(v.cast(gdb.lookup_type('uintptr')))",
  "            tname = tn(t)",
  "            if tname.startswith('map['):",
  "                o = base(name, t, a, K['Map']); o['base'] = p",
  "                if p:",
  "                    h = v.dereference(); fl = fields(h.type.strip_typedefs())",
  "                    for f in ('used', 'count'):",
  "                        if f in fl: o['len'] = int(h[f])",
  "                return o",
  "            if tname.startswith('chan '):",
  "                o = base(name, t, a, K['Chan']); o['base'] = p",
  "                if p:",
  "                    h = v.dereference()",
  "                    o['children'] = [walk('qcount', h['qcount'], 9), walk('dataqsiz', h['dataqsiz'], 9)]",
  "                return o",
  "            if tname.startswith('func('):",
  "                o = base(name, t, a, K['Func'])",
  "                if p:",
  "                    pc = int.from_bytes(bytes(mem.read_memory(p, 8)), 'little')",
  "                    try: o['value'] = gdb.block_for_pc(pc).function.print_name",
  "                    except Exception: o['value'] = hex(pc)",
  "                return o",
  "            o = base(name, t, a, K['Ptr']); o['value'] = str(p)",
  "            if p == 0: return o",
  "            if depth >= 6:",
  "                c = base('', st.target(), p, K['Struct']); c['onlyAddr'] = True; o['children'] = [c]; return o",
  "            o['children'] = [walk('', v.dereference(), depth + 1)]",
  "            return o",
  "        if code == gdb.TYPE_CODE_STRUCT:",
  "            fl = fields(st)",
  "            if fl == ['str', 'len']:",
  "                n = int(v['len']); o = base(name, t, a, K['String']); o['len'] = n",
  "                b = bytes(mem.read_memory(int(v['str']), min(n, 256))) if n > 0 else b''",
  "                try: o['value'] = b.decode('utf-8')",
  "                except UnicodeDecodeError:",
  "                    o['value'] = b.decode('utf-8', 'replace'); o['StringValueBytes'] = base64.b64encode(b).decode()",
  "                return o",
  "            if fl == ['array', 'len', 'cap']:",
  "                n = int(v['len']); o = base(name, t, a, K['Slice']); o['len'] = n; o['cap'] = int(v['cap'])",
  "                arr = v['array']; o['base'] = int(arr.cast(gdb.lookup_type('uintptr')))",
  "                et = arr.type.strip_typedefs().target().strip_typedefs()",
  "                limit = 256 if et.sizeof == 1 else 32",
  "                if depth < 6:",
  "                    o['children'] = [walk('', arr[i], depth + 1) for i in range(min(n, limit))]",
  "                return o",
  "            if fl == ['tab', 'data'] or fl == ['_type', 'data']:",
  "                iface = fl[0] == 'tab'",
  "                o = base(name, t, a, K['Interface'])",
  "                tab = v[fl[0]]",
  "                if int(tab.cast(gdb.lookup_type('uintptr'))) == 0: o['addr'] = 0; return o",
  "                cname = concrete(tab, iface)",
  "                ct, isptr = lookup(cname) if cname else (None, False)",
  "                data = v['data']",
  "                if ct is None:",
  "                    c = base('data', data.type, 0, 0); c['type'] = cname or '?'; c['unreadable'] = 'the dynamic type is unknown to gdb'",
  "                    o['children'] = [c]; return o",
  "                if isptr:",
  "                    c = walk('data', data.cast(ct.pointer()), depth + 1)",
  "                else:",
  "                    c = walk('data', data.cast(ct.pointer()).dereference(), depth + 1)",
  "                o['children'] = [c]",
  "                return o",
  "            o = base(name, t, a, K['Struct']); o['len'] = len(fl)",
  "            if tn(t) == 'time.Time' and fl == ['wall', 'ext', 'loc']:",
  "                try: o['value'] = time_value(v)",
  "                except Exception: pass",
  "            if depth < 6:",
  "                o['children'] = [walk(f, v[f], depth + 1) for f in fl]",
  "            return o",
  "        if code == gdb.TYPE_CODE_ARRAY:",
  "            o = base(name, t, a, K['Array']); r = st.range(); n = r[1] - r[0] + 1; o['len'] = n; o['cap'] = n",
  "            if depth < 6: o['children'] = [walk('', v[i], depth + 1) for i in range(min(n, 32))]",
  "            return o",
  "        o = base(name, t, a, 0); o['value'] = str(v); return o",
  "    except gdb.MemoryError as e:",
  "        o = base(name, t, a, 0); o['unreadable'] = 'could not read memory: %s' % e; return o",
  "    except gdb.error as e:",
  "        o = base(name, t, a, 0); o['unreadable'] = str(e); return o",
  "",
  "budget = 4000",
  "f = gdb.newest_frame(); level = 0",
  "while f is not None:",
  "    fn = f.function()",
  "    if fn is not None and not fn.name.startswith('runtime.'):",
  "        budget = 4000",
  "        out = {'level': level, 'args': [], 'locals': []}",
  "        try:",
  "            b = f.block()",
  "            while b is not None:",
  "                for s in b:",
  "                    if s.is_argument or s.is_variable:",
  "                        try: v = s.value(f)",
  "                        except Exception:",
  "                            v = None",
  "                        var = walk(s.name, v, 0) if v is not None else dict(base(s.name, s.type, 0, 0), unreadable='optimized out')",
  "                        (out['args'] if s.is_argument else out['locals']).append(var)",
  "                if b.function is not None: break",
  "                b = b.superblock",
  "        except RuntimeError:",
  "            pass",
  "        gdb.write(json.dumps(out) + '\\n')",
  "    f = f.older(); level += 1",
];

/** The `python` command that prints the values (exec(): `python` on the command line takes one line). */
export const GO_VALUES_PY = `python exec(${JSON.stringify(GO_VALUES_LINES.join("\n"))})`;

interface FrameValues {
  level: number;
  args: dlv.Variable[];
  locals: dlv.Variable[];
}

/** The walk's lines (other output, a gdb without Python: ignored) by frame level. */
export function parseGoValues(section: string): Map<number, FrameValues> {
  const out = new Map<number, FrameValues>();
  for (const line of section.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const f = JSON.parse(line) as FrameValues;
      if (typeof f.level === "number" && Array.isArray(f.args) && Array.isArray(f.locals))
        out.set(f.level, f);
    } catch {
      // a line cut short: that frame keeps gdb's text
    }
  }
  return out;
}

/**
 * Each frame's args and locals from the walk, in Go's notation with the raw fields beside, where
 * the walk read the frame; gdb's text stays for the others. gdb does not say whether a function
 * was optimised: an unreadable value is worded as Delve's path words one of an optimised function.
 * `redact` masks secret-looking values and struct fields as the Delve path does.
 */
export function applyGoValues(frames: GdbFrame[], section: string | undefined, redact = false): void {
  if (!section) return;
  const values = parseGoValues(section);
  for (const f of frames) {
    const v = values.get(f.level);
    if (!v || f.runtime) continue;
    const convert = (list: dlv.Variable[]): Variable[] =>
      list.filter((x) => !x.name.startsWith("~r")).map((x) => toVariable(x, redact));
    f.args = convert(v.args);
    f.locals = convert(v.locals);
  }
}
