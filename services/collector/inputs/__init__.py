"""Collector inputs. Each reads lines and hands them to the publisher with an acknowledgement hook."""
