/*
 * sipreg-control - the operator's side of sipreg: admin API on a Unix
 * socket (admin.h, server.h) over the LMDB state the dataplane writes.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "server.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipreg-control [--state-dir DIR] [--stats-dir DIR] [--instance NAME]\n"
		"                      [--socket PATH] [--dataplane-socket PATH] [--realm REALM]\n"
		"                      [--xdp-iface IFACE]   (read XDP drop counters from the maps\n"
		"                       of the prefilter on IFACE, in this network namespace)\n"
		"defaults: --state-dir /var/lib/sipreg --stats-dir /dev/shm --instance sipreg\n"
		"          --socket <state-dir>/control.sock --dataplane-socket <state-dir>/dataplane.sock\n"
		"          --realm sipreg.test (HA1s of passwords given to account_add/import)\n"
		"Serves the admin API (README.md \"Operating sipreg\"); talk to it with sipregctl.\n"
		"exit status: 0 stopped by SIGTERM/SIGINT, 1 cannot start, 2 usage\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "stats-dir", required_argument, NULL, 'd' },
		{ "instance", required_argument, NULL, 'i' },
		{ "socket", required_argument, NULL, 'S' },
		{ "dataplane-socket", required_argument, NULL, 'D' },
		{ "xdp-iface", required_argument, NULL, 'X' },
		{ "realm", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct control_config cfg = {
		.state_dir = "/var/lib/sipreg", .stats_dir = "/dev/shm", .instance = "sipreg",
		.realm = "sipreg.test",
	};
	const char *socket_path = NULL;
	char sock_buf[PATH_MAX], dp_buf[PATH_MAX], err[1024];
	struct control c;
	struct sigaction sa = { .sa_handler = on_signal };
	int opt, lfd;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 's': cfg.state_dir = optarg; break;
		case 'd': cfg.stats_dir = optarg; break;
		case 'i': cfg.instance = optarg; break;
		case 'S': socket_path = optarg; break;
		case 'D': cfg.dataplane_socket = optarg; break;
		case 'X': cfg.xdp_iface = optarg; break;
		case 'r': cfg.realm = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!socket_path) {
		snprintf(sock_buf, sizeof(sock_buf), "%s/control.sock", cfg.state_dir);
		socket_path = sock_buf;
	}
	if (!cfg.dataplane_socket) {
		snprintf(dp_buf, sizeof(dp_buf), "%s/dataplane.sock", cfg.state_dir);
		cfg.dataplane_socket = dp_buf;
	}
	if (control_open(&c, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "sipreg-control: %s\n", err);
		return 1;
	}
	lfd = server_listen(socket_path, err, sizeof(err));
	if (lfd < 0) {
		fprintf(stderr, "sipreg-control: %s\n", err);
		control_close(&c);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "sipreg-control: serving %s (state %s, dataplane %s)\n", socket_path,
		cfg.state_dir, cfg.dataplane_socket);
	server_run(&c, lfd, &stop_flag);
	close(lfd);
	unlink(socket_path);
	control_close(&c);
	return 0;
}
