/* options: table-driven argv parser and help printer for the CLI (see
 * options.h). No state outside the caller's table and variables. */
#include "options.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

#define OPT_SPECS_MAX 128     /* rows in one table */
#define HELP_COL 32           /* column where help text starts */
#define HELP_WIDTH 79

int opt_list_push(struct opt_list *l, const char *s)
{
	if (l->n + 1 >= l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		const char **nv;

		if (l->n + 1 >= OPT_LIST_MAX)
			return -E2BIG;
		nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
	return 0;
}

void opt_list_release(struct opt_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->cap = 0;
}

static bool takes_value(enum opt_kind k)
{
	return k == OPT_STRING || k == OPT_CHOICE || k == OPT_UINT ||
	       k == OPT_I64 || k == OPT_RATE || k == OPT_LIST;
}

int options_parse_rate(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1024;   /* plain number: KiB/s, like rsync/rclone */
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'b': case 'B':
		mult = 1;
		end++;
		break;
	case 'k': case 'K':
		end++;
		break;
	case 'm': case 'M':
		mult = 1024ULL * 1024;
		end++;
		break;
	case 'g': case 'G':
		mult = 1024ULL * 1024 * 1024;
		end++;
		break;
	case 't': case 'T':
		mult = 1024ULL * 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && mult > 1)    /* "10Mi" */
		end++;
	if (*end == 'b' || *end == 'B')  /* "10MB", "10MiB" */
		end++;
	if (*end == '/' && end[1] == 's') /* "10M/s" */
		end += 2;
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*out = (uint64_t)v * mult;
	return 0;
}

/* The option's display name for messages: "--name" or "-h". */
static void opt_display(char *out, size_t cap, const struct opt_spec *o)
{
	if (o->name)
		snprintf(out, cap, "--%s", o->name);
	else
		snprintf(out, cap, "-%c", o->short_name);
}

/* OPT_CHOICE: store the table's own string for val, whatever the case
 * val was given in, so that the caller sees one spelling. where: the
 * option as messages name it. */
static int set_choice(const struct opt_spec *o, const char *val,
		      const char *where, struct errbuf *eb)
{
	size_t i;

	for (i = 0; o->choices && o->choices[i]; i++) {
		if (!strcasecmp(val, o->choices[i])) {
			*(const char **)o->value = o->choices[i];
			break;
		}
	}
	if (!o->choices || !o->choices[i]) {
		char list[256] = "";
		size_t n = 0;

		for (i = 0; o->choices && o->choices[i]; i++) {
			int w = snprintf(list + n, sizeof(list) - n,
					 "%s%s", i ? ", " : "",
					 o->choices[i]);

			if (w < 0 || (size_t)w >= sizeof(list) - n)
				break;
			n += (size_t)w;
		}
		return errbuf_set(eb, -EINVAL, "invalid value for %s: "
				  "'%s' (choose from %s)", where, val,
				  list);
	}
	return 0;
}

/* OPT_BOOL / OPT_FLAG given a value (from the environment): 1/0,
 * true/false, yes/no, y/n, on/off or t/f, in any case. where: as for
 * set_choice. */
static int set_bool(const struct opt_spec *o, const char *val,
		    const char *where, struct errbuf *eb)
{
	if (!strcasecmp(val, "1") || !strcasecmp(val, "true") ||
	    !strcasecmp(val, "yes") || !strcasecmp(val, "y") ||
	    !strcasecmp(val, "on") || !strcasecmp(val, "t")) {
		*(bool *)o->value = true;
	} else if (!strcasecmp(val, "0") || !strcasecmp(val, "false") ||
		   !strcasecmp(val, "no") || !strcasecmp(val, "n") ||
		   !strcasecmp(val, "off") || !strcasecmp(val, "f")) {
		*(bool *)o->value = false;
	} else {
		return errbuf_set(eb, -EINVAL, "invalid value for %s: "
				  "'%s' is not a boolean (use 1/0, "
				  "true/false, yes/no)", where, val);
	}
	return 0;
}

/* Store val into o->value. src: NULL (argv) or the env variable name. */
static int set_value(const struct opt_spec *o, const char *val,
		     const char *src, struct errbuf *eb)
{
	char name[80], where[160];
	unsigned long long u;
	long long ll;
	char *end;
	int rc;

	opt_display(name, sizeof(name), o);
	if (src)
		snprintf(where, sizeof(where), "%s (%s)", src, name);
	else
		snprintf(where, sizeof(where), "'%s'", name);
	switch (o->kind) {
	case OPT_STRING:
		*(const char **)o->value = val;
		break;
	case OPT_CHOICE:
		rc = set_choice(o, val, where, eb);
		if (rc < 0)
			return rc;
		break;
	case OPT_BOOL:
	case OPT_FLAG:
		/* only from the environment: argv flags are set directly */
		rc = set_bool(o, val, where, eb);
		if (rc < 0)
			return rc;
		break;
	case OPT_UINT:
		errno = 0;
		if (*val < '0' || *val > '9')
			goto not_number;
		u = strtoull(val, &end, 10);
		if (errno || *end || u > UINT_MAX)
			goto not_number;
		*(unsigned *)o->value = (unsigned)u;
		break;
	case OPT_I64:
		errno = 0;
		if (!*val)
			goto not_number;
		ll = strtoll(val, &end, 10);
		if (errno || *end || end == val)
			goto not_number;
		*(int64_t *)o->value = (int64_t)ll;
		break;
	case OPT_RATE:
		if (options_parse_rate(val, (uint64_t *)o->value))
			return errbuf_set(eb, -EINVAL, "invalid value for %s: "
					  "'%s' (expected a rate like 500K, "
					  "10M or 1G bytes per second)",
					  where, val);
		break;
	case OPT_LIST:
		rc = opt_list_push((struct opt_list *)o->value, val);
		if (rc == -E2BIG)
			return errbuf_set(eb, -EINVAL, "too many %s values",
					  name);
		if (rc)
			return errbuf_set(eb, rc, "out of memory");
		break;
	case OPT_HELP:
	case OPT_END:
		break;
	}
	if (o->seen)
		*o->seen = true;
	return 0;
not_number:
	return errbuf_set(eb, -EINVAL, "invalid value for %s: '%s' is not %s",
			  where, val, o->kind == OPT_UINT ?
			  "a non-negative integer" : "an integer");
}

/* Find a long option by name (len bytes). *negated is set for the
 * "--no-name" form of an OPT_BOOL. */
static const struct opt_spec *find_long(const struct opt_spec *specs,
					const char *name, size_t len,
					bool *negated)
{
	size_t i;

	*negated = false;
	for (i = 0; specs[i].kind != OPT_END; i++) {
		const char *n = specs[i].name;

		if (n && strlen(n) == len && !memcmp(n, name, len))
			return &specs[i];
	}
	if (len > 3 && !memcmp(name, "no-", 3)) {
		for (i = 0; specs[i].kind != OPT_END; i++) {
			const char *n = specs[i].name;

			if (specs[i].kind == OPT_BOOL && n &&
			    strlen(n) == len - 3 &&
			    !memcmp(n, name + 3, len - 3)) {
				*negated = true;
				return &specs[i];
			}
		}
	}
	return NULL;
}

static const struct opt_spec *find_short(const struct opt_spec *specs, char c)
{
	size_t i;

	for (i = 0; specs[i].kind != OPT_END; i++)
		if (specs[i].short_name && specs[i].short_name == c)
			return &specs[i];
	return NULL;
}

int options_parse(const struct opt_spec *specs, int argc, char **argv,
		  unsigned flags, struct errbuf *eb)
{
	bool given[OPT_SPECS_MAX] = { false };
	size_t nspecs = 0, k;
	int i, npos = 0, rc;

	while (specs[nspecs].kind != OPT_END)
		nspecs++;
	if (nspecs > OPT_SPECS_MAX)
		return errbuf_set(eb, -EINVAL, "option table too large");
	for (i = 0; i < argc; i++) {
		const char *w = argv[i];
		const struct opt_spec *o;
		const char *val = NULL;
		bool negated = false;
		char disp[80];

		if (!strcmp(w, "--")) {
			for (i++; i < argc; i++)
				argv[npos++] = argv[i];
			break;
		}
		if (w[0] != '-' || w[1] == '\0') {
			if (flags & OPT_STOP_AT_NONOPT) {
				for (; i < argc; i++)
					argv[npos++] = argv[i];
				break;
			}
			argv[npos++] = argv[i];
			continue;
		}
		if (w[1] == '-') {
			const char *name = w + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			o = find_long(specs, name, len, &negated);
			if (!o)
				return errbuf_set(eb, -EINVAL, "unknown option "
						  "'--%.*s'",
						  (int)(len > 100 ? 100 : len),
						  name);
			if (eq)
				val = eq + 1;
		} else {
			o = find_short(specs, w[1]);
			if (!o)
				return errbuf_set(eb, -EINVAL,
						  "unknown option '-%c'", w[1]);
			if (w[2])
				val = w[2] == '=' ? w + 3 : w + 2;
		}
		if (negated)
			snprintf(disp, sizeof(disp), "--no-%s", o->name);
		else
			opt_display(disp, sizeof(disp), o);
		if (o->kind == OPT_HELP)
			return OPT_PARSE_HELP;
		if (!takes_value(o->kind)) {
			if (val)
				return errbuf_set(eb, -EINVAL, "option '%s' "
						  "takes no value", disp);
			*(bool *)o->value = !negated;
			if (o->seen)
				*o->seen = true;
		} else {
			if (!val) {
				if (i + 1 >= argc)
					return errbuf_set(eb, -EINVAL, "option "
							  "'%s' needs a value",
							  disp);
				val = argv[++i];
			}
			rc = set_value(o, val, NULL, eb);
			if (rc < 0)
				return rc;
		}
		given[o - specs] = true;
	}
	if (flags & OPT_NO_ENV)
		return npos;
	for (k = 0; k < nspecs; k++) {
		const char *ev;

		if (given[k] || !specs[k].env || specs[k].kind == OPT_HELP)
			continue;
		ev = getenv(specs[k].env);
		if (!ev || !*ev)
			continue;
		rc = set_value(&specs[k], ev, specs[k].env, eb);
		if (rc < 0)
			return rc;
	}
	return npos;
}

/* Print s word-wrapped from column col (the cursor is at column *cur). */
static void print_wrapped(FILE *out, const char *s, int col, int *cur)
{
	while (*s) {
		const char *sp = strchr(s, ' ');
		int wlen = sp ? (int)(sp - s) : (int)strlen(s);

		if (*cur > col && *cur + 1 + wlen > HELP_WIDTH) {
			fprintf(out, "\n%*s", col, "");
			*cur = col;
		} else if (*cur > col) {
			fputc(' ', out);
			(*cur)++;
		}
		for (int k = 0; k < wlen; k++)   /* \x01: a space that
						 * does not break */
			fputc(s[k] == '\x01' ? ' ' : s[k], out);
		*cur += wlen;
		s += wlen;
		while (*s == ' ')
			s++;
	}
}

static const char *default_metavar(const struct opt_spec *o)
{
	if (o->metavar)
		return o->metavar;
	switch (o->kind) {
	case OPT_UINT:
	case OPT_I64:
		return "N";
	case OPT_RATE:
		return "RATE";
	default:
		return "TEXT";
	}
}

void options_print_help(FILE *out, const struct opt_spec *specs)
{
	size_t i, j;

	for (i = 0; specs[i].kind != OPT_END; i++) {
		const struct opt_spec *o = &specs[i];
		char left[160], extra[512];
		size_t n = 0, e = 0;
		int cur, w;

		n += (size_t)snprintf(left + n, sizeof(left) - n, "  ");
		if (o->short_name)
			n += (size_t)snprintf(left + n, sizeof(left) - n,
					      "-%c%s", o->short_name,
					      o->name ? ", " : "");
		if (o->name && n < sizeof(left))
			n += (size_t)snprintf(left + n, sizeof(left) - n,
					      "--%s", o->name);
		if (o->kind == OPT_BOOL && n < sizeof(left))
			n += (size_t)snprintf(left + n, sizeof(left) - n,
					      " / --no-%s", o->name);
		if (takes_value(o->kind) && n < sizeof(left))
			snprintf(left + n, sizeof(left) - n, " %s",
				 default_metavar(o));
		fputs(left, out);
		cur = (int)strlen(left);
		if (cur + 2 > HELP_COL) {
			fprintf(out, "\n%*s", HELP_COL, "");
		} else {
			fprintf(out, "%*s", HELP_COL - cur, "");
		}
		cur = HELP_COL;
		print_wrapped(out, o->help ? o->help : "", HELP_COL, &cur);
		extra[0] = '\0';
		if (o->kind == OPT_CHOICE && o->choices) {
			w = snprintf(extra + e, sizeof(extra) - e, "[choices:");
			e += w > 0 ? (size_t)w : 0;
			for (j = 0; o->choices[j] && e < sizeof(extra); j++) {
				w = snprintf(extra + e, sizeof(extra) - e,
					     "%s%s", j ? ", " : " ",
					     o->choices[j]);
				e += w > 0 ? (size_t)w : 0;
			}
			if (e < sizeof(extra)) {
				w = snprintf(extra + e, sizeof(extra) - e, "] ");
				e += w > 0 ? (size_t)w : 0;
			}
		}
		if (o->def && e < sizeof(extra)) {
			w = snprintf(extra + e, sizeof(extra) - e,
				     "[default:\x01%s] ", o->def);
			e += w > 0 ? (size_t)w : 0;
		}
		if (o->env && e < sizeof(extra))
			snprintf(extra + e, sizeof(extra) - e, "[env:\x01%s]",
				 o->env);
		if (extra[0])
			print_wrapped(out, extra, HELP_COL, &cur);
		fputc('\n', out);
	}
}
