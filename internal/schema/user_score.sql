-- The user-score service's business table: one row per registered user.
-- gid is the register saga that wrote the row (see user.sql).
CREATE TABLE IF NOT EXISTS `user_score` (
  `user_id` char(36) CHARACTER SET ascii NOT NULL,
  `gid` varchar(128) CHARACTER SET ascii NOT NULL DEFAULT '',
  `score` bigint NOT NULL,
  `create_time` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`user_id`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
