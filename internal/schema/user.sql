-- The user service's business table. Ids are allocated by the gateway
-- (UUIDv7, time-ordered, so inserts append to the primary key). gid is the
-- register saga that wrote the row: its compensation deletes only a row
-- with its own gid. The unique key on username is case-insensitive (two
-- users never differ by case alone); login compares names exactly. email
-- is stored canonical (domain in lower case) and compared byte for byte, as
-- a local part is case-sensitive; rows from before it have none (NULL).
-- completed_at is set by the saga's last step (CompleteUser), once the
-- score step can no longer refuse: until then the row may still be
-- compensated. Its default is the insert's time on purpose: rows that
-- predate the last step, and rows an older two-step gateway's saga
-- inserts during an upgrade, are complete when written; CreateUser writes
-- NULL explicitly. email_verified_at is set when a verification code from
-- the mail is spent (VerifyEmail).
CREATE TABLE IF NOT EXISTS `user` (
  `id` char(36) CHARACTER SET ascii NOT NULL,
  `gid` varchar(128) CHARACTER SET ascii NOT NULL DEFAULT '',
  `username` varchar(32) NOT NULL,
  `password_hash` varchar(100) CHARACTER SET ascii NOT NULL,
  `gender` varchar(16) NOT NULL,
  `email` varchar(254) CHARACTER SET ascii COLLATE ascii_bin NULL,
  `create_time` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `completed_at` datetime(3) NULL DEFAULT CURRENT_TIMESTAMP(3),
  `email_verified_at` datetime(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uniq_username` (`username`),
  UNIQUE KEY `uniq_email` (`email`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;

-- The transactional outbox: work caused by a fact, written in the same
-- barrier transaction as the fact (CompleteUser writes one verify-email row
-- with the completion). The relay publishes due rows to asynq with id as the
-- task id and pushes next_publish_at forward; it publishes a row again
-- whenever next_publish_at comes round while done_at is still NULL (a task
-- lost with Redis is sent again). The worker sets done_at in the same
-- transaction as the record of its work. Times are the server's clock
-- (NOW(3)) only, so that no process's time zone or clock skew matters.
-- payload is the event a read-model row carries (internal/readmodel's
-- JSON, written with the fact); NULL for the rows whose worker reads the
-- database again instead (verify-email). trace_parent is the W3C
-- traceparent of the span that wrote the row ('' when tracing is off): the
-- relay publishes the row under it, so that its work joins the
-- registration's trace.
CREATE TABLE IF NOT EXISTS `outbox` (
  `id` char(36) CHARACTER SET ascii NOT NULL,
  `kind` varchar(32) CHARACTER SET ascii NOT NULL,
  `user_id` char(36) CHARACTER SET ascii NOT NULL,
  `gid` varchar(128) CHARACTER SET ascii NOT NULL,
  `payload` blob NULL,
  `trace_parent` varchar(55) CHARACTER SET ascii NOT NULL DEFAULT '',
  `created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `next_publish_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `published_at` datetime(3) NULL,
  `publishes` int unsigned NOT NULL DEFAULT 0,
  `done_at` datetime(3) NULL,
  `outcome` varchar(32) CHARACTER SET ascii NOT NULL DEFAULT '',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uniq_gid_kind` (`gid`, `kind`),
  KEY `due` (`done_at`, `next_publish_at`)
) ENGINE = InnoDB DEFAULT CHARSET = ascii;

-- One row per verification mail the SMTP server accepted: the mailer's
-- delivery record, keyed by the outbox row it did, written with that row's
-- done_at in one transaction. code_hash is SHA-256 of the code in the
-- mail's link (the code itself is never stored); used_at is set when it is
-- spent.
CREATE TABLE IF NOT EXISTS `email_delivery` (
  `outbox_id` char(36) CHARACTER SET ascii NOT NULL,
  `user_id` char(36) CHARACTER SET ascii NOT NULL,
  `email` varchar(254) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  `code_hash` binary(32) NOT NULL,
  `sent_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `expires_at` datetime(3) NOT NULL,
  `used_at` datetime(3) NULL,
  PRIMARY KEY (`outbox_id`),
  UNIQUE KEY `uniq_code_hash` (`code_hash`),
  KEY `by_user` (`user_id`)
) ENGINE = InnoDB DEFAULT CHARSET = ascii;
