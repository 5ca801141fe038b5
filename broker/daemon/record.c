/* SPDX-License-Identifier: MIT */
/* rammd --record FILE (record.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "plan_record.h"
#include "record.h"

struct record *record_open(const char *path)
{
	struct record *rec = calloc(1, sizeof(*rec));
	int err;

	if (!rec)
		return NULL;
	rec->path = strdup(path);
	rec->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (!rec->path || rec->fd < 0) {
		err = rec->path ? errno : ENOMEM;
		record_close(rec);
		errno = err;
		return NULL;
	}
	return rec;
}

/* Stop recording after a failure, which @what and @err say. */
static void record_stop(struct record *rec, const char *what, int err)
{
	log_err("record %s: %s: %s; recording stopped", rec->path, what,
		strerror(err));
	close(rec->fd);
	rec->fd = -1;
}

void record_tick(struct record *rec, const struct plan_input *in,
		 const struct plan_result *out)
{
	char *line;
	size_t len, done = 0;
	int ret;

	if (!rec || rec->fd < 0)
		return;
	ret = plan_record_format(in, out, &line, &len);
	if (ret) {
		record_stop(rec, "cannot format this tick", -ret);
		return;
	}
	/* One write() of the whole line: O_APPEND keeps it in one piece. */
	while (done < len) {
		ssize_t n = write(rec->fd, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			record_stop(rec, "write failed", n < 0 ? errno : EIO);
			break;
		}
		done += (size_t)n;
	}
	free(line);
}

void record_close(struct record *rec)
{
	if (!rec)
		return;
	if (rec->fd >= 0)
		close(rec->fd);
	free(rec->path);
	free(rec);
}
