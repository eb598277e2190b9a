/* aws_config: a line-by-line reader of the AWS shared files that keeps the
 * one profile asked for (and the [services] section it names). */
#include "aws_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "banned.h"

struct walk {
	const char *file;
	bool is_config;
	bool services_pass;        /* second pass: find [services NAME] */
	const char *profile;
	struct aws_profile *p;
	bool in_section;           /* the current section is the one wanted */
	bool seen_section;
	bool have_key;             /* a key line since the section header */
	size_t key_indent;         /* indentation of that line */
	char nested[64];           /* key of the open nested block, or "" */
	size_t line;
};

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int set(struct walk *w, char *dst, size_t cap, const char *key,
	       const char *val, struct errbuf *eb)
{
	size_t n = strlen(val);

	if (n >= cap)
		return errbuf_set(eb, -EINVAL, "invalid AWS file '%s' line %zu: "
				  "value of '%s' longer than %zu bytes",
				  w->file, w->line, key, cap - 1);
	memcpy(dst, val, n + 1);
	return 0;
}

#define SET(field) set(w, p->field, sizeof(p->field), key, val, eb)

/* key = val in the wanted section; sub: the nested block's key or NULL */
static int apply(struct walk *w, const char *sub, const char *key,
		 const char *val, struct errbuf *eb)
{
	struct aws_profile *p = w->p;

	if (w->services_pass)
		return sub && !strcmp(sub, "s3") &&
		       !strcmp(key, "endpoint_url") ?
		       SET(s3_endpoint_url) : 0;
	if (sub) {
		if (strcmp(sub, "s3"))
			return 0;
		if (!strcmp(key, "addressing_style"))
			return SET(addressing_style);
		if (!strcmp(key, "endpoint_url"))
			return SET(s3_endpoint_url);
		return 0;
	}
	if (!strcmp(key, "aws_access_key_id"))
		return SET(access_key);
	if (!strcmp(key, "aws_secret_access_key"))
		return SET(secret);
	if (!strcmp(key, "aws_session_token") ||
	    !strcmp(key, "aws_security_token"))
		return SET(token);
	if (!strcmp(key, "region"))
		return SET(region);
	if (!strcmp(key, "endpoint_url"))
		return SET(endpoint_url);
	if (!strcmp(key, "services"))
		return SET(services);
	if (!strcmp(key, "ignore_configured_endpoint_urls"))
		return SET(ignore_endpoints);
	return 0;
}

#undef SET

/* does "[name]" select what this pass wants? */
static bool wanted(const struct walk *w, const char *name)
{
	const char *rest;

	if (w->services_pass) {
		if (strncmp(name, "services", 8) ||
		    (name[8] != ' ' && name[8] != '\t'))
			return false;
		rest = name + 9;
		while (*rest == ' ' || *rest == '\t')
			rest++;
		return !strcmp(rest, w->p->services);
	}
	if (!w->is_config || !strcmp(name, "default"))
		return !strcmp(name, w->profile);
	if (strncmp(name, "profile", 7) || (name[7] != ' ' && name[7] != '\t'))
		return false;
	rest = name + 8;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	return !strcmp(rest, w->profile);
}

static int bad_line(const struct walk *w, const char *why, struct errbuf *eb)
{
	return errbuf_set(eb, -EINVAL, "invalid AWS file '%s' line %zu: %s",
			  w->file, w->line, why);
}

/* configparser's rule: a line indented deeper than the last key line
 * continues that key's value; for "key =" it is a nested "sub = value" */
static int do_line(struct walk *w, char *line, struct errbuf *eb)
{
	size_t indent = strspn(line, " \t");
	bool cont = w->have_key && indent > w->key_indent;
	char *s = trim(line), *eq, *key, *val, *k;
	size_t n;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (cont && w->nested[0]) {
		eq = s + strcspn(s, "=:");
		if (!*eq)
			return bad_line(w, "expected 'key = value' in a "
					"nested block", eb);
		*eq = '\0';
		key = trim(s);
		for (k = key; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		return w->in_section ? apply(w, w->nested, key, trim(eq + 1),
					     eb) : 0;
	}
	if (cont)
		return 0;   /* continuation of a multi-line value: unused */
	w->nested[0] = '\0';
	w->have_key = false;
	if (*s == '[') {
		n = strlen(s);
		if (s[n - 1] != ']')
			return bad_line(w, "section header without ']'", eb);
		s[n - 1] = '\0';
		w->in_section = wanted(w, trim(s + 1));
		if (w->in_section && !w->services_pass)
			w->p->found = true;
		w->seen_section = true;
		return 0;
	}
	eq = s + strcspn(s, "=:");
	if (!*eq)
		return bad_line(w, "expected '[section]' or 'key = value'", eb);
	if (!w->seen_section)
		return bad_line(w, "'key = value' before any section", eb);
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!*key)
		return bad_line(w, "empty key", eb);
	w->have_key = true;
	w->key_indent = indent;
	for (k = key; *k; k++)
		*k = (char)tolower((unsigned char)*k);
	if (!*val) {
		/* "s3 =" opens a nested block of indented lines */
		if (strlen(key) < sizeof(w->nested))
			memcpy(w->nested, key, strlen(key) + 1);
		return 0;
	}
	return w->in_section ? apply(w, NULL, key, val, eb) : 0;
}

static int walk(struct walk *w, const char *text, size_t len,
		struct errbuf *eb)
{
	char line[AWS_CONFIG_LINE_MAX + 1];
	const char *nl;
	size_t pos = 0, n;
	int err;

	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3;   /* UTF-8 byte order mark */
	w->line = 0;
	while (pos < len) {
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		w->line++;
		if (n > AWS_CONFIG_LINE_MAX)
			return errbuf_set(eb, -E2BIG, "invalid AWS file '%s' "
					  "line %zu: longer than %d bytes",
					  w->file, w->line, AWS_CONFIG_LINE_MAX);
		if (memchr(text + pos, '\0', n))
			return bad_line(w, "NUL byte", eb);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		err = do_line(w, line, eb);
		if (err)
			return err;
	}
	return 0;
}

int aws_config_parse(const char *text, size_t len, const char *file,
		     bool is_config, const char *profile,
		     struct aws_profile *p, struct errbuf *eb)
{
	struct walk w;
	int err;

	memset(&w, 0, sizeof(w));
	w.file = file;
	w.is_config = is_config;
	w.profile = profile;
	w.p = p;
	err = walk(&w, text, len, eb);
	if (err || !is_config || !p->services[0])
		return err;
	memset(&w, 0, sizeof(w));
	w.file = file;
	w.is_config = true;
	w.services_pass = true;
	w.profile = profile;
	w.p = p;
	return walk(&w, text, len, eb);
}

static void path_of(const char *env, const char *home, const char *leaf,
		    char *out, size_t cap)
{
	const char *v = getenv(env);

	if (v && *v) {
		if (v[0] == '~' && v[1] == '/' && home)
			snprintf(out, cap, "%s%s", home, v + 1);
		else
			snprintf(out, cap, "%s", v);
	} else if (home) {
		snprintf(out, cap, "%s/.aws/%s", home, leaf);
	} else {
		out[0] = '\0';
	}
}

void aws_config_paths(char *cred, size_t cred_cap, char *conf,
		      size_t conf_cap)
{
	const char *home = getenv("HOME");

	if (home && !*home)
		home = NULL;
	path_of("AWS_SHARED_CREDENTIALS_FILE", home, "credentials", cred,
		cred_cap);
	path_of("AWS_CONFIG_FILE", home, "config", conf, conf_cap);
}

/* read path whole into a malloc'd buffer; *out NULL when it is missing */
static int slurp(const char *path, char **out, size_t *len,
		 struct errbuf *eb)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, err = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return errbuf_set(eb, -errno, "cannot open AWS file '%s': %s",
				  path, strerror(errno));
	}
	if (!fstat(fd, &st) && S_ISCHR(st.st_mode))
		goto out;   /* /dev/null: no settings, as botocore reads it */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = errbuf_set(eb, -EINVAL, "cannot read AWS file '%s': "
				 "not a regular file", path);
		goto out;
	}
	if (st.st_size > AWS_CONFIG_FILE_MAX) {
		err = errbuf_set(eb, -E2BIG, "cannot read AWS file '%s': "
				 "larger than %d bytes", path,
				 AWS_CONFIG_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	r = fdio_read_full(fd, buf, (size_t)st.st_size);
	if (r < 0) {
		err = errbuf_set(eb, (int)r, "cannot read AWS file '%s': %s",
				 path, strerror((int)-r));
		goto out;
	}
	got = (size_t)r;
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

int aws_config_load(const char *profile, struct aws_profile *p,
		    char *cred_path, size_t cred_cap, char *conf_path,
		    size_t conf_cap, struct errbuf *eb)
{
	char *text;
	size_t len;
	int err;

	memset(p, 0, sizeof(*p));
	aws_config_paths(cred_path, cred_cap, conf_path, conf_cap);
	if (conf_path[0]) {
		err = slurp(conf_path, &text, &len, eb);
		if (!err && text)
			err = aws_config_parse(text, len, conf_path, true,
					       profile, p, eb);
		free(text);
		if (err)
			return err;
	}
	if (cred_path[0]) {
		err = slurp(cred_path, &text, &len, eb);
		if (!err && text)
			err = aws_config_parse(text, len, cred_path, false,
					       profile, p, eb);
		if (text)
			memset(text, 0, len);
		free(text);
		if (err)
			return err;
	}
	return 0;
}
