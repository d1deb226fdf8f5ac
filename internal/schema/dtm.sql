-- The DTM server's MySQL store (the tables DTM v1.19.0 reads and writes),
-- created only if missing: applying it again never drops saga state.
CREATE TABLE IF NOT EXISTS `trans_global` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `gid` varchar(128) NOT NULL COMMENT 'global transaction id',
  `trans_type` varchar(45) NOT NULL COMMENT 'saga | xa | tcc | msg | workflow',
  `status` varchar(12) NOT NULL COMMENT 'prepared | submitted | aborting | succeed | failed',
  `query_prepared` varchar(1024) NOT NULL,
  `protocol` varchar(45) NOT NULL COMMENT 'http | grpc | json-rpc',
  `create_time` datetime DEFAULT NULL,
  `update_time` datetime DEFAULT NULL,
  `finish_time` datetime DEFAULT NULL,
  `rollback_time` datetime DEFAULT NULL,
  `options` varchar(1024) DEFAULT '',
  `custom_data` varchar(1024) DEFAULT '',
  `next_cron_interval` int DEFAULT NULL,
  `next_cron_time` datetime DEFAULT NULL,
  `owner` varchar(128) NOT NULL DEFAULT '' COMMENT 'the DTM server locking this row',
  `ext_data` text,
  `result` varchar(1024) DEFAULT '',
  `rollback_reason` varchar(1024) DEFAULT '',
  PRIMARY KEY (`id`),
  UNIQUE KEY `gid` (`gid`),
  KEY `owner` (`owner`),
  KEY `status_next_cron_time` (`status`, `next_cron_time`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS `trans_branch_op` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `gid` varchar(128) NOT NULL,
  `url` varchar(1024) NOT NULL,
  `data` text,
  `bin_data` blob,
  `branch_id` varchar(128) NOT NULL,
  `op` varchar(45) NOT NULL COMMENT 'action | compensate | try | confirm | cancel',
  `status` varchar(45) NOT NULL COMMENT 'prepared | succeed | failed',
  `finish_time` datetime DEFAULT NULL,
  `rollback_time` datetime DEFAULT NULL,
  `create_time` datetime DEFAULT NULL,
  `update_time` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `gid_uniq` (`gid`, `branch_id`, `op`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS `kv` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `cat` varchar(45) NOT NULL,
  `k` varchar(128) NOT NULL,
  `v` text,
  `version` bigint DEFAULT 1,
  `create_time` datetime DEFAULT NULL,
  `update_time` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uniq_k` (`cat`, `k`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
