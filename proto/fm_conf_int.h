/* Private to fm_conf.c and fm_conf_doc.c: the loaded document. */
#ifndef FM_CONF_INT_H
#define FM_CONF_INT_H

#include <yaml.h>

struct fmc_doc {
    char *file;         /* name used in errors */
    yaml_document_t yd; /* kept for fmc_doc_line */
};

#endif
