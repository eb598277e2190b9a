/* filter: include/exclude glob rules for scan and sync (see filter.h for
 * the pattern language). The matcher bounds backtracking the way rsync's
 * wildmatch does: a '*' that fails at a '/' gives up to the enclosing '**',
 * so a pattern with many stars costs O(pattern x text), not exponential. */
#include "filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct filter_rule {
	char *pat;            /* pattern without leading/trailing '/' */
	size_t len;
	size_t dir_len;       /* pattern "x/" + "**": length of "x", else 0 */
	bool include;
	bool anchored;        /* leading '/' */
	bool dir_only;        /* trailing '/' */
};

struct filter {
	struct filter_rule *rules;
	size_t n, cap;
	bool has_include;
};

/* results of one matcher step */
enum {
	WM_MATCH = 0,
	WM_NOMATCH = 1,
	WM_ABORT_ALL = 2,          /* no later start position can match */
	WM_ABORT_TO_STARSTAR = 3,  /* only an enclosing '**' can help */
};

/* Match a bracket class starting after '[' at *pp (pattern end pe) against
 * byte c. Advances *pp past the closing ']'. Returns 1 match, 0 no match,
 * -1 malformed class. */
static int match_class(const char **pp, const char *pe, unsigned char c)
{
	const char *p = *pp;
	bool negate = false, matched = false, first = true;

	if (p < pe && (*p == '!' || *p == '^')) {
		negate = true;
		p++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (p >= pe)
			return -1;
		if (*p == ']' && !first)
			break;
		first = false;
		lo = (unsigned char)*p;
		if (lo == '\\') {
			if (++p >= pe)
				return -1;
			lo = (unsigned char)*p;
		}
		p++;
		hi = lo;
		if (p + 1 < pe && *p == '-' && p[1] != ']') {
			p++;
			hi = (unsigned char)*p;
			if (hi == '\\') {
				if (++p >= pe)
					return -1;
				hi = (unsigned char)*p;
			}
			p++;
		}
		if (c >= lo && c <= hi)
			matched = true;
	}
	*pp = p + 1;    /* past ']' */
	return matched != negate;
}

/* p0: start of the whole pattern (to know whether a '**' begins a path
 * component); [p, pe) the rest of the pattern, [t, te) the rest of the
 * text. */
static int wildmatch(const char *p0, const char *p, const char *pe,
		     const char *t, const char *te)
{
	for (; p < pe; p++, t++) {
		unsigned char pc = (unsigned char)*p;
		const char *class_p;
		int m;

		if (t >= te && pc != '*')
			return WM_ABORT_ALL;
		switch (pc) {
		case '\\':
			if (++p >= pe)
				return WM_ABORT_ALL;
			if (*t != *p)
				return WM_NOMATCH;
			break;
		case '?':
			if (*t == '/')
				return WM_NOMATCH;
			break;
		case '[':
			if (*t == '/')
				return WM_NOMATCH;
			class_p = p + 1;
			m = match_class(&class_p, pe, (unsigned char)*t);
			if (m < 0)
				return WM_ABORT_ALL;
			if (!m)
				return WM_NOMATCH;
			p = class_p - 1;  /* the loop's p++ moves past ']' */
			break;
		case '*': {
			bool starstar = false;
			bool at_component = p == p0 || p[-1] == '/';

			while (p + 1 < pe && p[1] == '*') {
				p++;
				starstar = true;
			}
			p++;  /* first byte after the stars */
			if (p >= pe) {
				/* trailing star(s): "**" takes the rest, '*'
				 * only within this component */
				if (starstar || !memchr(t, '/', (size_t)(te - t)))
					return WM_MATCH;
				return WM_ABORT_TO_STARSTAR;
			}
			/* a "**" component followed by '/' also matches
			 * zero directories ("a/", "**", "/b" matches "a/b") */
			if (starstar && at_component && *p == '/') {
				m = wildmatch(p0, p + 1, pe, t, te);
				if (m == WM_MATCH)
					return WM_MATCH;
			}
			for (; t < te; t++) {
				m = wildmatch(p0, p, pe, t, te);
				if (m != WM_NOMATCH) {
					if (!starstar ||
					    m != WM_ABORT_TO_STARSTAR)
						return m;
				} else if (!starstar && *t == '/') {
					return WM_ABORT_TO_STARSTAR;
				}
			}
			return WM_ABORT_ALL;
		}
		default:
			if (*t != *p)
				return WM_NOMATCH;
			break;
		}
	}
	return t == te ? WM_MATCH : WM_NOMATCH;
}

bool filter_glob_match(const char *pattern, size_t plen, const char *text,
		       size_t tlen)
{
	return wildmatch(pattern, pattern, pattern + plen, text,
			 text + tlen) ==
	       WM_MATCH;
}

/* Check pattern syntax: every '[' closed, no dangling '\'. */
static int pattern_check(const char *p, size_t len)
{
	const char *pe = p + len;

	while (p < pe) {
		if (*p == '\\') {
			if (p + 1 >= pe)
				return -EINVAL;
			p += 2;
		} else if (*p == '[') {
			const char *q = p + 1;

			if (match_class(&q, pe, 0) < 0)
				return -EINVAL;
			p = q;
		} else {
			p++;
		}
	}
	return 0;
}

int filter_new(struct filter **out, struct errbuf *eb)
{
	struct filter *f;

	if (!out)
		return errbuf_set(eb, -EINVAL, "filter_new: no output");
	f = calloc(1, sizeof(*f));
	if (!f)
		return errbuf_set(eb, -ENOMEM, "cannot allocate filter");
	*out = f;
	return 0;
}

void filter_free(struct filter *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++)
		free(f->rules[i].pat);
	free(f->rules);
	free(f);
}

size_t filter_count(const struct filter *f)
{
	return f ? f->n : 0;
}

int filter_add(struct filter *f, bool include, const char *pattern,
	       struct errbuf *eb)
{
	struct filter_rule r = { .include = include };
	const char *p;
	size_t len;

	if (!f || !pattern)
		return errbuf_set(eb, -EINVAL, "filter_add: invalid arguments");
	len = strnlen(pattern, FILTER_PATTERN_MAX + 1);
	if (len > FILTER_PATTERN_MAX)
		return errbuf_set(eb, -EINVAL,
				  "filter pattern longer than %d bytes",
				  FILTER_PATTERN_MAX);
	p = pattern;
	if (len && p[0] == '/') {
		r.anchored = true;
		p++;
		len--;
	}
	if (len && p[len - 1] == '/' &&
	    !(len >= 2 && p[len - 2] == '\\')) {
		r.dir_only = true;
		len--;
	}
	if (!len)
		return errbuf_set(eb, -EINVAL, "empty filter pattern '%s'",
				  pattern);
	if (pattern_check(p, len))
		return errbuf_set(eb, -EINVAL,
				  "malformed filter pattern '%s': unterminated "
				  "'[' or trailing '\\'", pattern);
	if (f->n >= FILTER_RULES_MAX)
		return errbuf_set(eb, -E2BIG, "more than %d filter rules",
				  FILTER_RULES_MAX);
	if (len >= 3 && !memcmp(p + len - 3, "/**", 3))
		r.dir_len = len - 3;
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		struct filter_rule *nr = realloc(f->rules, ncap * sizeof(*nr));

		if (!nr)
			return errbuf_set(eb, -ENOMEM, "cannot allocate filter");
		f->rules = nr;
		f->cap = ncap;
	}
	r.pat = malloc(len + 1);
	if (!r.pat)
		return errbuf_set(eb, -ENOMEM, "cannot allocate filter");
	memcpy(r.pat, p, len);
	r.pat[len] = '\0';
	r.len = len;
	f->rules[f->n++] = r;
	if (include)
		f->has_include = true;
	return 0;
}

/* Does pattern (plen) match text, anchored or at any component start? */
static bool match_at_components(const char *pat, size_t plen, bool anchored,
				const char *text, size_t tlen)
{
	size_t i;
	int m;

	m = wildmatch(pat, pat, pat + plen, text, text + tlen);
	if (m == WM_MATCH)
		return true;
	if (anchored || (plen >= 2 && pat[0] == '*' && pat[1] == '*'))
		return false;
	for (i = 0; i < tlen; i++) {
		if (text[i] != '/')
			continue;
		m = wildmatch(pat, pat, pat + plen, text + i + 1,
			      text + tlen);
		if (m == WM_MATCH)
			return true;
	}
	return false;
}

static bool rule_matches(const struct filter_rule *r, const char *text,
			 size_t tlen, bool is_dir)
{
	if (is_dir && r->dir_len &&
	    match_at_components(r->pat, r->dir_len, r->anchored, text, tlen))
		return true;
	if (r->dir_only && !is_dir)
		return false;
	return match_at_components(r->pat, r->len, r->anchored, text, tlen);
}

/* First matching rule: 1 include, 0 exclude, -1 none. */
static int first_match(const struct filter *f, const char *text, size_t tlen,
		       bool is_dir)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (rule_matches(&f->rules[i], text, tlen, is_dir))
			return f->rules[i].include ? 1 : 0;
	return -1;
}

bool filter_allows(const struct filter *f, const char *relpath, size_t len,
		   bool is_dir)
{
	bool ancestor_included = false;
	size_t i;
	int m;

	if (!f || !f->n)
		return true;
	for (i = 0; i < len; i++) {
		if (relpath[i] != '/')
			continue;
		m = first_match(f, relpath, i, true);
		if (m == 0)
			return false;
		if (m == 1)
			ancestor_included = true;
	}
	m = first_match(f, relpath, len, is_dir);
	if (m >= 0)
		return m == 1;
	if (is_dir || ancestor_included)
		return true;
	return !f->has_include;
}

void filter_patterns_free(char **patterns)
{
	size_t i;

	if (!patterns)
		return;
	for (i = 0; patterns[i]; i++)
		free(patterns[i]);
	free(patterns);
}

int filter_read_file(const char *path, char ***out, size_t *count,
		     struct errbuf *eb)
{
	char **v = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	char *line = NULL;
	size_t line_cap = 0;
	ssize_t got;
	FILE *fp;
	int rc = 0;

	if (!path || !out)
		return errbuf_set(eb, -EINVAL, "filter_read_file: no path");
	fp = fopen(path, "re");
	if (!fp)
		return errbuf_set(eb, -errno, "cannot open '%s': %s", path,
				  strerror(errno));
	for (;;) {
		size_t len;

		errno = 0;
		got = getline(&line, &line_cap, fp);
		if (got < 0) {
			if (errno && !feof(fp))
				rc = errbuf_set(eb, -errno,
						"cannot read '%s': %s", path,
						strerror(errno));
			break;
		}
		lineno++;
		len = (size_t)got;
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (!len || line[0] == '#' || line[0] == ';')
			continue;
		if (len > FILTER_PATTERN_MAX || memchr(line, '\0', len)) {
			rc = errbuf_set(eb, -EINVAL, "'%s' line %zu: pattern "
					"too long or contains NUL", path, lineno);
			break;
		}
		if (n >= FILTER_RULES_MAX) {
			rc = errbuf_set(eb, -E2BIG, "'%s': more than %d patterns",
					path, FILTER_RULES_MAX);
			break;
		}
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				rc = errbuf_set(eb, -ENOMEM, "out of memory");
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[n] = strdup(line);
		if (!v[n]) {
			rc = errbuf_set(eb, -ENOMEM, "out of memory");
			break;
		}
		v[++n] = NULL;
	}
	free(line);
	fclose(fp);
	if (rc == 0 && !v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			rc = errbuf_set(eb, -ENOMEM, "out of memory");
	}
	if (rc < 0) {
		if (v) {
			v[n] = NULL;
			filter_patterns_free(v);
		}
		return rc;
	}
	*out = v;
	if (count)
		*count = n;
	return 0;
}

int filter_load_file(struct filter *f, bool include, const char *path,
		     struct errbuf *eb)
{
	char **v = NULL;
	size_t i, n = 0;
	int rc;

	rc = filter_read_file(path, &v, &n, eb);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		rc = filter_add(f, include, v[i], eb);
		if (rc < 0) {
			errbuf_wrap(eb, rc, "'%s'", path);
			break;
		}
	}
	filter_patterns_free(v);
	return rc;
}

int filter_from_opts(const char *const *include, const char *const *exclude,
		     struct filter **out, struct errbuf *eb)
{
	struct filter *f = NULL;
	size_t i;
	int rc;

	rc = filter_new(&f, eb);
	if (rc < 0)
		return rc;
	for (i = 0; include && include[i]; i++) {
		rc = filter_add(f, true, include[i], eb);
		if (rc < 0)
			goto fail;
	}
	for (i = 0; exclude && exclude[i]; i++) {
		rc = filter_add(f, false, exclude[i], eb);
		if (rc < 0)
			goto fail;
	}
	*out = f;
	return 0;
fail:
	filter_free(f);
	return rc;
}
