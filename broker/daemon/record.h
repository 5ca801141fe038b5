/* SPDX-License-Identifier: MIT */
/*
 * rammd --record FILE: one line per tick with what the planner was given
 * and what it decided (broker/market/plan_record.h), for ramm-sim
 * --replay. The formatting is plan_record.c's; this file only opens and
 * writes. A write that fails is logged once and recording stops: the
 * market never waits for, or fails because of, its recording.
 */
#ifndef RAMM_RECORD_H
#define RAMM_RECORD_H

struct plan_input;
struct plan_result;

/* An open recording. */
struct record {
	char *path; /* owned, for log lines */
	int fd;     /* O_APPEND | O_CLOEXEC; -1 once recording stopped */
};

/*
 * record_open - open (or create, mode 0640) @path for appending. Returns a
 * new recording the caller frees with record_close(), or NULL with errno
 * set (the caller logs).
 */
struct record *record_open(const char *path);

/*
 * record_tick - append one line for @in and @out (what plan_tick() made of
 * it). A failure (formatting, a short or failed write) is logged once,
 * and recording stops. Does nothing on NULL @rec or once stopped.
 */
void record_tick(struct record *rec, const struct plan_input *in,
		 const struct plan_result *out);

/* record_close - close and free @rec. NULL is fine. */
void record_close(struct record *rec);

#endif /* RAMM_RECORD_H */
