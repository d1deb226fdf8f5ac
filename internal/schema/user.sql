-- The user service's business table. Ids are allocated by the gateway
-- (UUIDv7, time-ordered, so inserts append to the primary key). gid is the
-- register saga that wrote the row: its compensation deletes only a row
-- with its own gid. The unique key on username is case-insensitive (two
-- users never differ by case alone); login compares names exactly. email
-- is stored canonical (domain in lower case) and compared byte for byte, as
-- a local part is case-sensitive; rows from before it have none (NULL).
CREATE TABLE IF NOT EXISTS `user` (
  `id` char(36) CHARACTER SET ascii NOT NULL,
  `gid` varchar(128) CHARACTER SET ascii NOT NULL DEFAULT '',
  `username` varchar(32) NOT NULL,
  `password_hash` varchar(100) CHARACTER SET ascii NOT NULL,
  `gender` varchar(16) NOT NULL,
  `email` varchar(254) CHARACTER SET ascii COLLATE ascii_bin NULL,
  `create_time` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`id`),
  UNIQUE KEY `uniq_username` (`username`),
  UNIQUE KEY `uniq_email` (`email`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_general_ci;
