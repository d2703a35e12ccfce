/* The notes sample service: its handlers, one file per resource. */
#ifndef NOTES_APP_H
#define NOTES_APP_H

#include "bulwark/bulwark.h"

/* health.c */
int health_live(bw_req *req, bw_res *res);
int health_ready(bw_req *req, bw_res *res);

/* notes.c */
int notes_list(bw_req *req, bw_res *res);
int notes_create(bw_req *req, bw_res *res);
int notes_get(bw_req *req, bw_res *res);
int notes_update(bw_req *req, bw_res *res);
int notes_delete(bw_req *req, bw_res *res);

/* admin.c */
int admin_users_list(bw_req *req, bw_res *res);
int admin_users_get(bw_req *req, bw_res *res);
int admin_users_create(bw_req *req, bw_res *res);
int admin_users_update(bw_req *req, bw_res *res);

#endif
