  /* ---- the runs filter's regular expressions, matched in linear time (issue 118) ----
   * The browser's RegExp backtracks: (a{1,9}){1,9}$ or ((.?){8}){8}!
   * over one ordinary run name ran past a minute, and a test once
   * started cannot be stopped. So the filter has its own matcher, safe by
   * construction rather than by a check on the pattern: the expression is
   * parsed (the subset below), compiled to a Thompson NFA and simulated a
   * set of states at a time (Thompson, Pike), so that a text costs at most
   * its length times the states, whatever the expression; a budget of
   * steps, counted inside a match, bounds a whole filter (a 10,000-state
   * expression over a 4,000-run sweep) where one may still be too slow.
   *
   * The subset, as JavaScript reads it without the u flag, always
   * case-insensitive (the i flag's canonicalisation) and matched anywhere
   * in a text (as RegExp's test): literals and escapes (\n \t \xHH \uHHHH
   * \cX, a backslash before any other character is that character), '.',
   * classes [a-z0-9_] [^...] and \d \w \s \D \W \S (inside classes too),
   * anchors ^ $ \b \B, groups (...) (?:...) (?<name>...), alternation |,
   * quantifiers * + ? {m} {m,} {m,n}, greedy or lazy (whether a text
   * matches does not depend on it). Refused, saying what: back-references
   * (\1, \k<name>), lookahead and lookbehind, \p{...}, octal escapes, and
   * an expression whose automaton passes RE_STATES (a bounded repeat is
   * compiled as that many copies: a{20000}). */
  var RE_STATES = 10000, RE_DEPTH = 200;

  /* the i flag's canonical form of a code unit (Canonicalize without
   * the u flag): its upper case when that is one code unit, and not a
   * non-ASCII one made ASCII (the long s is not S) */
  var folded = {}, unfolded = null;
  function fold(c) {
    if (c < 128) return c >= 97 && c <= 122 ? c - 32 : c;
    if (folded[c] === undefined) {
      var u = String.fromCharCode(c).toUpperCase();
      folded[c] = u.length === 1 && u.charCodeAt(0) >= 128 ? u.charCodeAt(0) : c;
    }
    return folded[c];
  }
  /* the code units whose canonical form is f (made once, when a class
   * first meets a character outside ASCII) */
  function foldedTo(f) {
    if (!unfolded) {
      unfolded = {};
      for (var c = 128; c < 65536; c++) {
        var g = fold(c);
        if (g !== c) (unfolded[g] = unfolded[g] || [g]).push(c);
      }
    }
    return unfolded[f] || [f];
  }

  /* compileFilter(source): { test: function (text) -> true, false, or
   * null once the steps given to the matcher (its .left) are spent,
   * states: the automaton's size } or { error: why it is not a regular
   * expression } or { unsupported: what it holds that the filter does not
   * match } */
  function compileFilter(source) {
    var i = 0, n = source.length;
    function Refusal(kind, message) { this.kind = kind; this.message = message; }
    function syntax(what) { throw new Refusal('error', what); }
    function unsupported(what) { throw new Refusal('unsupported', what); }

    /* the code unit sets of \d \w \s, as [lo, hi] ranges */
    var DIGIT = [48, 57], WORD = [48, 57, 65, 90, 95, 95, 97, 122];
    var SPACE = [9, 13, 32, 32, 160, 160, 5760, 5760, 8192, 8202, 8232, 8233, 8239, 8239, 8287, 8287,
                 12288, 12288, 65279, 65279];
    function complement(r) {
      var out = [], lo = 0;
      for (var j = 0; j < r.length; j += 2) {
        if (r[j] > lo) out.push(lo, r[j] - 1);
        lo = r[j + 1] + 1;
      }
      if (lo <= 0xffff) out.push(lo, 0xffff);
      return out;
    }
    var CLASSES = { d: DIGIT, D: complement(DIGIT), w: WORD, W: complement(WORD), s: SPACE, S: complement(SPACE) };
    function hex(len) {
      var h = source.substr(i, len);
      if (h.length !== len || !/^[0-9a-fA-F]+$/.test(h)) return -1;
      i += len;
      return parseInt(h, 16);
    }
    /* after a backslash (i past it): a code unit, or { set: ranges }, or
     * { assert: 'b' | 'B' } outside a class */
    function escape(inClass) {
      if (i >= n) syntax('\\ at the end');
      var c = source[i++];
      if (CLASSES[c]) return { set: CLASSES[c] };
      if (c === 'b') return inClass ? 8 : { assert: 'b' };
      if (c === 'B' && !inClass) return { assert: 'B' };
      if (c >= '1' && c <= '9') unsupported(inClass ? 'an octal escape (\\' + c + ')' : 'a back-reference (\\' + c + ')');
      if (c === '0') {
        if (i < n && source[i] >= '0' && source[i] <= '9') unsupported('an octal escape (\\0' + source[i] + ')');
        return 0;
      }
      if (c === 'k') unsupported('a named back-reference (\\k<name>)');
      if (c === 'p' || c === 'P') unsupported('a Unicode property (\\' + c + '{...})');
      var simple = { n: 10, r: 13, t: 9, v: 11, f: 12 };
      if (c in simple) return simple[c];
      if (c === 'c') {
        var l = source.charCodeAt(i);
        if ((l >= 65 && l <= 90) || (l >= 97 && l <= 122)) { i++; return l % 32; }
        i--; /* \c before anything else is a backslash, then 'c' (as the browser reads it) */
        return 92;
      }
      if (c === 'x' || c === 'u') {
        var v = hex(c === 'x' ? 2 : 4);
        return v >= 0 ? v : c.charCodeAt(0); /* \x or \u without its digits is the letter */
      }
      return source.charCodeAt(i - 1); /* any other: itself */
    }

    /* a quantifier at i: { min, max, len } or null ({ is a literal unless it
     * opens {m}, {m,} or {m,n}) */
    var BRACES = /\{(\d+)(,(\d*))?\}/y, NAME = /\?<([A-Za-z_$][\w$]*)>/y;
    function quantifier() {
      var c = source[i];
      if (c === '*') return { min: 0, max: Infinity, len: 1 };
      if (c === '+') return { min: 1, max: Infinity, len: 1 };
      if (c === '?') return { min: 0, max: 1, len: 1 };
      if (c !== '{') return null;
      BRACES.lastIndex = i;
      var m = BRACES.exec(source);
      if (!m) return null;
      return { min: +m[1], max: m[2] === undefined ? +m[1] : m[3] === '' ? Infinity : +m[3], len: m[0].length };
    }

    /* the parse: { t: 'char', c } (case-folded), 'any', 'set' { r: ranges,
     * neg }, 'assert' { k: '^' '$' 'b' 'B' }, 'cat' { xs }, 'alt' { xs },
     * 'rep' { x, min, max } */
    function alternation(depth) {
      if (depth > RE_DEPTH) unsupported('nesting groups over ' + RE_DEPTH + ' deep');
      var xs = [sequence(depth)];
      while (i < n && source[i] === '|') { i++; xs.push(sequence(depth)); }
      return xs.length === 1 ? xs[0] : { t: 'alt', xs: xs };
    }
    function sequence(depth) {
      var xs = [];
      while (i < n && source[i] !== '|' && source[i] !== ')') {
        var x = atom(depth), q = quantifier();
        if (q) {
          if (x.t === 'assert') syntax('nothing to repeat');
          i += q.len;
          if (q.min > q.max) syntax('numbers out of order in a {} quantifier');
          if (source[i] === '?') i++; /* lazy: the same texts match */
          if (quantifier()) syntax('nothing to repeat');
          x = { t: 'rep', x: x, min: q.min, max: q.max };
        }
        xs.push(x);
      }
      return xs.length === 1 ? xs[0] : { t: 'cat', xs: xs };
    }
    function atom(depth) {
      var c = source[i];
      if (quantifier()) syntax('nothing to repeat');
      i++;
      if (c === '.') return { t: 'any' };
      if (c === '^' || c === '$') return { t: 'assert', k: c };
      if (c === '[') return charClass();
      if (c === '\\') {
        var e = escape(false);
        if (typeof e === 'number') return { t: 'char', c: fold(e) };
        return e.set ? { t: 'set', r: e.set, neg: false } : { t: 'assert', k: e.assert };
      }
      if (c === '(') {
        if (source[i] === '?') {
          var two = source.substr(i, 3);
          if (two[1] === ':') i += 2;
          else if (two[1] === '=' || two[1] === '!') unsupported('a lookahead ((?' + two[1] + '...))');
          else if (two === '?<=' || two === '?<!') unsupported('a lookbehind ((' + two + '...))');
          else if (two[1] === '<') {
            NAME.lastIndex = i;
            var named = NAME.exec(source);
            if (!named) syntax('a group\'s name not closed by >');
            i += named[0].length;
          } else if (/[a-z-]/i.test(two[1] || '')) unsupported('a group with flags ((?' + two[1] + '...))');
          else syntax('an invalid group');
        }
        var inner = alternation(depth + 1);
        if (source[i] !== ')') syntax('a ( not closed');
        i++;
        return inner;
      }
      if (c === ')') syntax('a ) not opened');
      return { t: 'char', c: fold(source.charCodeAt(i - 1)) };
    }
    function charClass() {
      var neg = source[i] === '^', r = [];
      if (neg) i++;
      function member() {
        if (source[i] === '\\') { i++; return escape(true); }
        return source.charCodeAt(i++);
      }
      for (;;) {
        if (i >= n) syntax('a [ not closed');
        if (source[i] === ']') { i++; break; }
        var a = member();
        if (source[i] === '-' && i + 1 < n && source[i + 1] !== ']') {
          i++;
          var b = member();
          if (typeof a === 'number' && typeof b === 'number') {
            if (a > b) syntax('a range out of order in a character class');
            r.push(a, b);
            continue;
          }
          add(b);
          add(45); /* [\d-z]: the '-' is itself, as the browser reads it */
        }
        add(a);
      }
      function add(m) {
        if (typeof m === 'number') r.push(m, m);
        else for (var j = 0; j < m.set.length; j++) r.push(m.set[j]);
      }
      return { t: 'set', r: merged(r), neg: neg };
    }
    function merged(r) {
      var pairs = [];
      for (var j = 0; j < r.length; j += 2) pairs.push([r[j], r[j + 1]]);
      pairs.sort(function (a, b) { return a[0] - b[0]; });
      var out = [];
      pairs.forEach(function (p) {
        if (out.length && p[0] <= out[out.length - 1] + 1) out[out.length - 1] = Math.max(out[out.length - 1], p[1]);
        else out.push(p[0], p[1]);
      });
      return out;
    }

    function within(r, c) {
      for (var j = 0; j < r.length && r[j] <= c; j += 2) if (c <= r[j + 1]) return true;
      return false;
    }
    /* a class holds c case-insensitively when it holds a code unit of c's
     * canonical form f: f and its lower case for ASCII, else any of those
     * foldedTo(f) lists (the Kelvin sign is not k; micro is mu) */
    function inSet(r, c, f) {
      if (within(r, c) || (f !== c && within(r, f))) return true;
      if (f < 128) return f >= 65 && f <= 90 && c === f && within(r, f + 32);
      var same = foldedTo(f);
      for (var j = 0; j < same.length; j++) if (same[j] !== c && within(r, same[j])) return true;
      return false;
    }

    var tree;
    try {
      tree = alternation(0);
      if (i < n) syntax('a ) not opened');
    } catch (e) {
      if (e instanceof Refusal) return e.kind === 'error' ? { error: e.message } : { unsupported: e.message };
      throw e;
    }

    /* the states the tree compiles to, counted before it is: a{m,n}
     * is m copies of a and n - m optional ones, a{m,} m copies looped */
    function size(x) {
      if (x.size === undefined) x.size = counted(x);
      return x.size;
    }
    function counted(x) {
      switch (x.t) {
        case 'cat': return x.xs.reduce(function (s, y) { return s + size(y); }, 0);
        case 'alt': return x.xs.reduce(function (s, y) { return s + size(y); }, x.xs.length - 1);
        case 'rep':
          var s = size(x.x);
          if (s === 0) return 0; /* () repeated is () */
          return x.max === Infinity ? Math.max(x.min, 1) * s + 1 : x.min * s + (x.max - x.min) * (s + 1);
        default: return 1;
      }
    }
    var need = size(tree) + 1;
    if (need > RE_STATES)
      return { unsupported: 'an expression compiled to over ' + RE_STATES.toLocaleString('en') + ' states (this one: ' +
                            (need < 1e9 ? need.toLocaleString('en') : 'over 10^9') + '; a{m,n} counts as n copies of a)' };

    /* the automaton, a state an index: op, its code unit or class or
     * assertion, its next state(s). Compiled back to front: comp(x, next)
     * returns the state that matches x then goes on to next. */
    var CHAR = 0, ANY = 1, SET = 2, SPLIT = 3, ASSERT = 4, MATCH = 5;
    var op = [], arg = [], out1 = [], out2 = [];
    function state(o, a, x, y) { op.push(o); arg.push(a); out1.push(x); out2.push(y); return op.length - 1; }
    function comp(x, next) {
      switch (x.t) {
        case 'char': return state(CHAR, x.c, next, -1);
        case 'any': return state(ANY, null, next, -1);
        case 'set': return state(SET, x, next, -1);
        case 'assert': return state(ASSERT, x.k, next, -1);
        case 'cat':
          for (var j = x.xs.length - 1; j >= 0; j--) next = comp(x.xs[j], next);
          return next;
        case 'alt':
          var s = comp(x.xs[x.xs.length - 1], next);
          for (var k = x.xs.length - 2; k >= 0; k--) s = state(SPLIT, null, comp(x.xs[k], next), s);
          return s;
        case 'rep':
          if (size(x.x) === 0) return next;
          var t = next, m = x.min;
          if (x.max === Infinity) {
            var loop = state(SPLIT, null, -1, next);
            out1[loop] = comp(x.x, loop);
            t = m === 0 ? loop : out1[loop];
            m = Math.max(m - 1, 0);
          } else
            for (var o = x.min; o < x.max; o++) t = state(SPLIT, null, comp(x.x, t), t);
          for (var c = 0; c < m; c++) t = comp(x.x, t);
          return t;
      }
    }
    var start = comp(tree, state(MATCH, null, -1, -1));
    var N = op.length, mark = new Int32Array(N), gen = 0;
    op = Int32Array.from(op); out1 = Int32Array.from(out1); out2 = Int32Array.from(out2);
    var lists = [new Int32Array(N), new Int32Array(N)], stack = new Int32Array(2 * N + 2);
    function isWord(c) { return c >= 0 && within(WORD, c); }

    /* one test's text, the states live after its position p (next, nNext),
     * whether MATCH was reached, the steps taken */
    var text = '', len = 0, next = lists[0], nNext = 0, found = false, steps = 0;
    /* adds s's closure at position p to next: the states that read a code
     * unit, reached past splits and the assertions that hold at p */
    function add(s, p) {
      var sp = 0;
      stack[sp++] = s;
      while (sp > 0) {
        s = stack[--sp];
        if (mark[s] === gen) continue;
        mark[s] = gen;
        steps++;
        var o = op[s];
        if (o === SPLIT) { stack[sp++] = out2[s]; stack[sp++] = out1[s]; }
        else if (o === ASSERT) {
          var k = arg[s], holds;
          if (k === '^') holds = p === 0;
          else if (k === '$') holds = p === len;
          else holds = (isWord(p > 0 ? text.charCodeAt(p - 1) : -1) !== isWord(p < len ? text.charCodeAt(p) : -1)) ===
                       (k === 'b');
          if (holds) stack[sp++] = out1[s];
        } else if (o === MATCH) found = true;
        else next[nNext++] = s;
      }
    }

    var matcher = { states: N, left: Infinity };
    /* whether t holds a match anywhere: the states live at each position,
     * each that reads the code unit there followed to the next, and a
     * new start at every position; null once the steps left are spent */
    matcher.test = function (t) {
      text = t; len = t.length; found = false; steps = 0; nNext = 0; next = lists[0];
      if (gen > 1e9) { mark.fill(0); gen = 0; }
      gen++;
      add(start, 0);
      for (var p = 0; p < len && !found; p++) {
        var live = next, nLive = nNext;
        next = lists[(p + 1) & 1]; nNext = 0;
        var c = text.charCodeAt(p), f = fold(c);
        gen++;
        for (var j = 0; j < nLive; j++) {
          var s = live[j], o = op[s], a = arg[s];
          if (o === CHAR ? a === f
              : o === ANY ? c !== 10 && c !== 13 && c !== 8232 && c !== 8233
              : inSet(a.r, c, f) !== a.neg) add(out1[s], p + 1);
        }
        add(start, p + 1);
        steps += nLive;
        if (steps > matcher.left) { matcher.left = 0; return null; }
      }
      matcher.left -= steps;
      return found;
    };
    return matcher;
  }
