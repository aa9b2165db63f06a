/* Network namespaces by name (/run/netns/NAME, as `ip netns` makes them): the agent reaches
 * into another namespace only to create a socket there. The socket keeps the namespace it was
 * made in; the agent's own threads never change namespace. */
#pragma once

/* 1..64 of [A-Za-z0-9_.-], not "." or "..". 0 or -EINVAL. */
int netns_name_valid(const char *name);
/* socket(domain, type, protocol) created inside /run/netns/NAME (NULL: here), by a short-lived
 * thread that joins the namespace, makes the socket and ends. The fd, or -errno (-EINVAL for a
 * bad name, -ENOENT for no such namespace). */
int netns_socket(const char *netns, int domain, int type, int protocol);
/* fn(userdata) run inside /run/netns/NAME (NULL: here, directly) by a short-lived thread, for
 * what opens its own sockets (libpcap's pcap_activate()): its result, or -errno of joining. */
int netns_run(const char *netns, int (*fn)(void *userdata), void *userdata);
