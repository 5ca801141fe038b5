/* SPDX-License-Identifier: MIT */
/*
 * The state file; state.h states the format and the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decimal.h"
#include "state.h"

#define STATE_MAGIC "ramm-state 1"

/* A name goes in the file between blanks: printable, no blanks, bounded. */
static int state_name_ok(const char *name, size_t len)
{
	if (len == 0 || len >= CONFIG_MAX_NAME)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] >= 0x7f)
			return 0;
	return 1;
}

/* An entry's UUID: none, or one vm_uuid_parse() gives back unchanged. */
static int state_uuid_ok(const char *uuid)
{
	char canon[VM_UUID_BUFLEN];
	size_t len = strnlen(uuid, VM_UUID_BUFLEN);

	if (len == 0)
		return 1;
	return !vm_uuid_parse(uuid, len, canon) && !strcmp(canon, uuid) &&
	       !vm_uuid_is_nil(canon);
}

int state_format(const struct state_entry *entries, size_t n, char **out,
		 size_t *len)
{
	size_t room = sizeof(STATE_MAGIC) + 1 + n * STATE_RECORDS * STATE_MAX_LINE;
	size_t used;
	char *buf;

	if (n > STATE_MAX_ENTRIES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!state_name_ok(entries[i].name, strlen(entries[i].name)) ||
		    !state_uuid_ok(entries[i].uuid))
			return -EINVAL;
	buf = malloc(room);
	if (!buf)
		return -ENOMEM;
	used = (size_t)snprintf(buf, room, "%s\n", STATE_MAGIC);
	for (size_t i = 0; i < n; i++) {
		const struct state_entry *e = &entries[i];
		const struct guest_overrides *ov = &e->ov;

		if (e->uuid[0])
			used += (size_t)snprintf(buf + used, room - used,
						 "identity %s uuid=%s\n", e->name,
						 e->uuid);
		if (e->have_account) {
			char acc[128];

			if (market_account_format(&e->account, acc, sizeof(acc)) < 0) {
				free(buf);
				return -EINVAL;
			}
			used += (size_t)snprintf(buf + used, room - used,
						 "account %s %s\n", e->name, acc);
		}
		used += (size_t)snprintf(buf + used, room - used,
			"overrides %s weight=%u floor_mib=%llu cap_mib=%llu excluded=%d drain=%d\n",
			e->name, ov->weight, (unsigned long long)ov->floor_mib,
			(unsigned long long)ov->cap_mib, !!ov->excluded, !!ov->drain);
	}
	*out = buf;
	*len = used;
	return 0;
}

__attribute__((format(printf, 4, 5)))
static int state_fail(char *err, size_t errlen, unsigned int line,
		      const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "line %u: %s", line, what);
	return -EINVAL;
}

/* Parse "key=DECIMAL" at *@p (up to @end) with @key, at most @max. */
static int state_field(const char **p, const char *end, const char *key,
		       uint64_t max, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *s = *p;
	uint64_t v;

	if ((size_t)(end - s) <= klen || memcmp(s, key, klen) || s[klen] != '=')
		return -EINVAL;
	s += klen + 1;
	if (decimal_parse(&s, end, max, &v))
		return -EINVAL;
	if (s < end && *s++ != ' ')
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

static int state_parse_overrides(const char *p, const char *end,
				 struct guest_overrides *ov)
{
	uint64_t weight, floor_mib, cap_mib, excluded, drain;

	if (state_field(&p, end, "weight", 10000, &weight) ||
	    state_field(&p, end, "floor_mib", 1ULL << 32, &floor_mib) ||
	    state_field(&p, end, "cap_mib", 1ULL << 32, &cap_mib) ||
	    state_field(&p, end, "excluded", 1, &excluded) ||
	    state_field(&p, end, "drain", 1, &drain) || p != end)
		return -EINVAL;
	if (floor_mib && cap_mib && floor_mib > cap_mib)
		return -EINVAL;
	ov->weight = (uint32_t)weight;
	ov->floor_mib = floor_mib;
	ov->cap_mib = cap_mib;
	ov->excluded = (int)excluded;
	ov->drain = (int)drain;
	return 0;
}

/* "uuid=UUID" from @p to @end: canonical and not nil. */
static int state_parse_identity(const char *p, const char *end, char *uuid)
{
	if ((size_t)(end - p) != 5 + VM_UUID_LEN || memcmp(p, "uuid=", 5) ||
	    vm_uuid_parse(p + 5, VM_UUID_LEN, uuid))
		return -EINVAL;
	if (vm_uuid_is_nil(uuid)) {
		uuid[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

/* The entry for @name, added if new; NULL when @max is reached. */
static struct state_entry *state_entry_for(struct state_entry *out,
					   size_t max, size_t *n,
					   const char *name, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen(out[i].name) == len && !memcmp(out[i].name, name, len))
			return &out[i];
	if (*n >= max)
		return NULL;
	memset(&out[*n], 0, sizeof(out[*n]));
	memcpy(out[*n].name, name, len);
	return &out[(*n)++];
}

int state_parse(const char *text, size_t len, struct state_entry *out,
		size_t max, size_t *n, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	unsigned int line = 0;

	*n = 0;
	if (max > STATE_MAX_ENTRIES)
		max = STATE_MAX_ENTRIES;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *name, *rest;
		enum { REC_IDENTITY, REC_ACCOUNT, REC_OVERRIDES } rec;
		struct state_entry *e;
		size_t name_len;

		line++;
		if (!eol)
			return state_fail(err, errlen, line, "no newline at the end");
		if ((size_t)(eol - p) > STATE_MAX_LINE)
			return state_fail(err, errlen, line, "longer than %d bytes",
					  STATE_MAX_LINE);
		if (line == 1) {
			if ((size_t)(eol - p) != strlen(STATE_MAGIC) ||
			    memcmp(p, STATE_MAGIC, strlen(STATE_MAGIC)))
				return state_fail(err, errlen, line,
						  "not a ramm state file (want \"%s\")",
						  STATE_MAGIC);
			p = eol + 1;
			continue;
		}
		if ((size_t)(eol - p) > 9 && !memcmp(p, "identity ", 9)) {
			rec = REC_IDENTITY;
			name = p + 9;
		} else if ((size_t)(eol - p) > 8 && !memcmp(p, "account ", 8)) {
			rec = REC_ACCOUNT;
			name = p + 8;
		} else if ((size_t)(eol - p) > 10 && !memcmp(p, "overrides ", 10)) {
			rec = REC_OVERRIDES;
			name = p + 10;
		} else {
			return state_fail(err, errlen, line, "unknown record");
		}
		rest = memchr(name, ' ', (size_t)(eol - name));
		if (!rest)
			return state_fail(err, errlen, line, "no fields");
		name_len = (size_t)(rest - name);
		if (!state_name_ok(name, name_len))
			return state_fail(err, errlen, line, "bad guest name");
		e = state_entry_for(out, max, n, name, name_len);
		if (!e)
			return state_fail(err, errlen, line, "more than %zu guests", max);
		rest++;
		switch (rec) {
		case REC_IDENTITY:
			if (state_parse_identity(rest, eol, e->uuid))
				return state_fail(err, errlen, line, "bad identity fields");
			break;
		case REC_ACCOUNT:
			if (market_account_parse(rest, (size_t)(eol - rest), &e->account))
				return state_fail(err, errlen, line, "bad account fields");
			e->have_account = 1;
			break;
		case REC_OVERRIDES:
			if (state_parse_overrides(rest, eol, &e->ov))
				return state_fail(err, errlen, line, "bad overrides fields");
			break;
		}
		p = eol + 1;
	}
	if (line == 0)
		return state_fail(err, errlen, 1, "empty file");
	return 0;
}

enum state_identity state_identify(struct state_entry *e, const char *uuid,
				   char old[VM_UUID_BUFLEN])
{
	old[0] = '\0';
	if (!strcmp(e->uuid, uuid))
		return STATE_IDENTITY_SAME;
	if (!e->uuid[0]) {
		snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
		return STATE_IDENTITY_ADOPTED;
	}
	snprintf(old, VM_UUID_BUFLEN, "%s", e->uuid);
	/* What the old VM earned, paid and was told by the operator was
	 * about that VM: the new one starts as any guest seen first. */
	e->have_account = 0;
	memset(&e->account, 0, sizeof(e->account));
	memset(&e->ov, 0, sizeof(e->ov));
	snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
	return STATE_IDENTITY_REPLACED;
}

/* Write all of @buf to @fd. */
static int state_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding @path, so that a rename into it is durable. */
static int state_sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int state_write(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	int fd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = state_write_all(fd, text, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return state_sync_dir(path);
}

int state_save(const char *path, const struct state_entry *entries, size_t n)
{
	char *text;
	size_t len;
	int ret;

	ret = state_format(entries, n, &text, &len);
	if (ret)
		return ret;
	ret = state_write(path, text, len);
	free(text);
	return ret;
}

int state_load(const char *path, struct state_entry *out, size_t max,
	       size_t *n, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	ssize_t got;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out_close;
	}
	if (st.st_size > STATE_MAX_FILE) {
		ret = -EFBIG;
		goto out_close;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		ret = -ENOMEM;
		goto out_close;
	}
	got = read(fd, text, (size_t)st.st_size + 1);
	if (got < 0)
		ret = -errno;
	else if (got > st.st_size)
		ret = -EFBIG; /* grew under us */
	else
		ret = state_parse(text, (size_t)got, out, max, n, err, errlen);
	free(text);
out_close:
	close(fd);
	return ret;
}
