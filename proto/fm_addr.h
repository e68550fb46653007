/* fm_addr: network addresses as configuration text, for both programs and
 * the simulator.
 *
 * A host is an IPv4 address (192.0.2.7), an IPv6 address bare or in
 * brackets (2001:db8::7, [2001:db8::7]), optionally with a zone for a
 * link-local address (fe80::1%eth0, fe80::1%2), or a host name
 * (ups-3.site.example). Text that can only be an address but is not a valid
 * one (it has a ':', or only digits and dots) is refused rather than taken
 * for a host name, so a typo fails at load instead of at the first poll.
 *
 * An endpoint is host:port. An IPv6 address in an endpoint must be in
 * brackets ([::1]:162): in `::1:162` the port cannot be told apart from the
 * address.
 *
 * The canonical form of an address is what two spellings of one address
 * share, used to match a datagram's source to a configured device: no
 * brackets, IPv4 and IPv6 as inet_ntop writes them (IPv6 compressed, lower
 * case: 0:0:0:0:0:0:0:1 is ::1), an IPv4-mapped IPv6 address as its IPv4
 * address, a numeric zone as its interface name when the interface exists.
 * A host name is kept as written.
 *
 * Pure functions (if_indextoname aside); any thread. */
#ifndef FM_ADDR_H
#define FM_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Longest canonical text: an IPv6 address, '%' and an interface name. */
#define FM_ADDR_MAX 64

enum fm_addr_kind {
    FM_ADDR_NAME = 0, /* a host name, resolved later */
    FM_ADDR_IPV4 = 4,
    FM_ADDR_IPV6 = 6,
};

/* Checks host (see above). Returns its kind, or -EINVAL with a sentence
 * saying why in *why (static text). */
int fm_addr_check_host(const char *host, const char **why);

/* Writes host's canonical form into out (cap bytes; FM_ADDR_MAX is
 * enough for any address). Text that fm_addr_check_host refuses is copied
 * as is. Returns host's kind as fm_addr_check_host does. */
int fm_addr_canonical(const char *host, char *out, size_t cap);

/* Splits endpoint "host:port" into host (brackets removed, not otherwise
 * changed; hcap bytes) and *port (1..65535), and checks the host. Returns
 * the host's kind, or -EINVAL with the reason in *why. */
int fm_addr_split(const char *endpoint, char *host, size_t hcap, int *port, const char **why);

/* The canonical text of a socket address (AF_INET or AF_INET6) and its
 * port (may be NULL). Another family gives "" and port 0. */
void fm_addr_from_sockaddr(const struct sockaddr *sa, char *out, size_t cap, int *port);

/* fmc_check_cb adapters for a key table (value is the field, a char *):
 * a host, or an endpoint host:port. */
int fm_addr_check_host_key(const void *value, char *why, size_t whylen);
int fm_addr_check_endpoint_key(const void *value, char *why, size_t whylen);

#endif
