/* fm_addr: see fm_addr.h. */
#include "fm_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_MAX 255 /* a DNS name's longest text */

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    }
    return true;
}

#define DIGITS "0123456789"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS "-_."

/* An IPv6 address of n bytes at s, with an optional %zone, into a; the
 * zone's text and length into *zone, *zlen. Returns 0 or -EINVAL. */
static int parse_v6(const char *s, size_t n, struct in6_addr *a, const char **zone, size_t *zlen,
                    const char **why)
{
    char text[INET6_ADDRSTRLEN + 1];
    const char *pct = memchr(s, '%', n);
    size_t alen = pct != NULL ? (size_t)(pct - s) : n;

    *zone = NULL;
    *zlen = 0;
    if (alen < sizeof(text)) {
        memcpy(text, s, alen);
        text[alen] = '\0';
    }
    if (alen >= sizeof(text) || inet_pton(AF_INET6, text, a) != 1) {
        *why = "is not a valid IPv6 address (eight groups of hex digits separated by ':', one "
               "'::' at most)";
        return -EINVAL;
    }
    if (pct == NULL)
        return 0;
    *zone = pct + 1;
    *zlen = n - alen - 1;
    if (*zlen == 0 || *zlen >= IF_NAMESIZE || !all_of(*zone, *zlen, NAME_CHARS)) {
        *why = "has no valid zone after '%' (an interface name such as eth0, or its index)";
        return -EINVAL;
    }
    if (!IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_MC_LINKLOCAL(a)) {
        *why = "has a zone ('%...'), which only a link-local address (fe80::/10) takes";
        return -EINVAL;
    }
    return 0;
}

static int check_name(const char *host, size_t n, const char **why)
{
    size_t label = 0;

    if (!all_of(host, n, NAME_CHARS)) {
        *why = "is neither an IP address nor a host name (letters, digits, '-', '_' and '.')";
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (host[i] != '.') {
            label++;
            continue;
        }
        if (label == 0 || label > 63)
            goto bad_label;
        label = 0;
    }
    if (label > 63)
        goto bad_label;
    return FM_ADDR_NAME;
bad_label:
    *why = "is not a host name: a part between dots is empty or longer than 63 characters";
    return -EINVAL;
}

int fm_addr_check_host(const char *host, const char **why)
{
    const char *dummy, *zone;
    struct in6_addr a6;
    struct in_addr a4;
    size_t n, zlen;

    if (why == NULL)
        why = &dummy;
    n = host != NULL ? strlen(host) : 0;
    if (n == 0) {
        *why = "is empty";
        return -EINVAL;
    }
    if (n > HOST_MAX) {
        *why = "is longer than 255 characters";
        return -EINVAL;
    }
    if (host[0] == '[' || host[n - 1] == ']') {
        if (host[0] == '[' && strstr(host, "]:") != NULL) {
            *why = "has a port after the address: a host takes no port (the `port` key does)";
            return -EINVAL;
        }
        if (host[0] != '[' || host[n - 1] != ']') {
            *why = "has a bracket without its pair ([2001:db8::1])";
            return -EINVAL;
        }
        if (memchr(host + 1, ':', n - 2) == NULL) {
            *why = "has brackets, which hold an IPv6 address only";
            return -EINVAL;
        }
        return parse_v6(host + 1, n - 2, &a6, &zone, &zlen, why) == 0 ? FM_ADDR_IPV6 : -EINVAL;
    }
    if (strchr(host, ':') != NULL)
        return parse_v6(host, n, &a6, &zone, &zlen, why) == 0 ? FM_ADDR_IPV6 : -EINVAL;
    if (strchr(host, '%') != NULL) {
        *why = "has a zone ('%...'), which only an IPv6 link-local address takes";
        return -EINVAL;
    }
    if (all_of(host, n, DIGITS ".")) {
        if (inet_pton(AF_INET, host, &a4) == 1)
            return FM_ADDR_IPV4;
        *why = "is not a valid IPv4 address (four numbers 0-255 separated by dots)";
        return -EINVAL;
    }
    return check_name(host, n, why);
}

/* Appends "%zone" to out, a numeric zone as its interface's name. */
static void append_zone(char *out, size_t cap, const char *zone, size_t zlen)
{
    char name[IF_NAMESIZE];
    size_t used = strlen(out);

    if (all_of(zone, zlen, DIGITS)) {
        unsigned long idx = strtoul(zone, NULL, 10);

        if (idx > 0 && idx <= UINT32_MAX && if_indextoname((unsigned)idx, name) != NULL) {
            snprintf(out + used, cap - used, "%%%s", name);
            return;
        }
    }
    snprintf(out + used, cap - used, "%%%.*s", (int)zlen, zone);
}

static void v6_text(const struct in6_addr *a, char *out, size_t cap)
{
    if (IN6_IS_ADDR_V4MAPPED(a))
        inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)cap);
    else
        inet_ntop(AF_INET6, a, out, (socklen_t)cap);
}

int fm_addr_canonical(const char *host, char *out, size_t cap)
{
    int kind = fm_addr_check_host(host, NULL);
    const char *s = host, *zone, *why;
    size_t n, zlen;
    struct in6_addr a6;
    struct in_addr a4;
    char text[FM_ADDR_MAX];

    if (cap == 0)
        return kind;
    if (kind == FM_ADDR_IPV4 && inet_pton(AF_INET, host, &a4) == 1 &&
        inet_ntop(AF_INET, &a4, text, sizeof(text)) != NULL) {
        snprintf(out, cap, "%s", text);
        return kind;
    }
    if (kind == FM_ADDR_IPV6) {
        n = strlen(s);
        if (s[0] == '[') {
            s++;
            n -= 2;
        }
        if (parse_v6(s, n, &a6, &zone, &zlen, &why) == 0) {
            v6_text(&a6, text, sizeof(text));
            if (zone != NULL)
                append_zone(text, sizeof(text), zone, zlen);
            snprintf(out, cap, "%s", text);
            return kind;
        }
    }
    snprintf(out, cap, "%s", host != NULL ? host : "");
    return kind;
}

int fm_addr_split(const char *endpoint, char *host, size_t hcap, int *port, const char **why)
{
    const char *colon, *dummy, *hend;
    char text[HOST_MAX + 3];
    unsigned long p;
    char *end;
    size_t n;
    int kind;

    if (why == NULL)
        why = &dummy;
    colon = endpoint != NULL ? strrchr(endpoint, ':') : NULL;
    if (colon == NULL || colon == endpoint) {
        *why = "is not host:port";
        return -EINVAL;
    }
    hend = colon;
    if (endpoint[0] == '[') {
        hend = strchr(endpoint, ']');
        if (hend == NULL || hend + 1 != colon) {
            *why = "is not [IPv6 address]:port (a ']' and then ':port' must follow the address)";
            return -EINVAL;
        }
        hend++;
    } else if (memchr(endpoint, ':', (size_t)(colon - endpoint)) != NULL) {
        *why = "has an IPv6 address without brackets: write it as [address]:port, e.g. [::1]:162";
        return -EINVAL;
    }
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || p < 1 || p > 65535) {
        *why = "has no port in 1..65535 after the last ':'";
        return -EINVAL;
    }
    n = (size_t)(hend - endpoint);
    if (n >= sizeof(text)) {
        *why = "has a host longer than 255 characters";
        return -EINVAL;
    }
    memcpy(text, endpoint, n);
    text[n] = '\0';
    kind = fm_addr_check_host(text, why);
    if (kind < 0)
        return kind;
    if (text[0] == '[')
        snprintf(host, hcap, "%.*s", (int)(n - 2), text + 1);
    else
        snprintf(host, hcap, "%s", text);
    *port = (int)p;
    return kind;
}

void fm_addr_from_sockaddr(const struct sockaddr *sa, char *out, size_t cap, int *port)
{
    int p = 0;

    if (cap > 0)
        out[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap);
        p = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        char zone[16];

        v6_text(&in6->sin6_addr, out, cap);
        if (in6->sin6_scope_id != 0 && !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            snprintf(zone, sizeof(zone), "%u", (unsigned)in6->sin6_scope_id);
            append_zone(out, cap, zone, strlen(zone));
        }
        p = ntohs(in6->sin6_port);
    }
    if (port != NULL)
        *port = p;
}

int fm_addr_check_host_key(const void *value, char *why, size_t whylen)
{
    const char *host = *(const char *const *)value;
    const char *reason;

    if (host == NULL || fm_addr_check_host(host, &reason) >= 0)
        return 0;
    snprintf(why, whylen, "'%s' %s", host, reason);
    return -EINVAL;
}

int fm_addr_check_endpoint_key(const void *value, char *why, size_t whylen)
{
    const char *ep = *(const char *const *)value;
    char host[HOST_MAX + 1];
    const char *reason;
    int port;

    if (ep == NULL || fm_addr_split(ep, host, sizeof(host), &port, &reason) >= 0)
        return 0;
    snprintf(why, whylen, "'%s' %s", ep, reason);
    return -EINVAL;
}
