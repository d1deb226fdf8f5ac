-- The user-score service's business table: one row per registered user.
CREATE TABLE IF NOT EXISTS `user_score` (
  `user_id` char(36) CHARACTER SET ascii NOT NULL,
  `score` bigint NOT NULL,
  `create_time` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`user_id`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
