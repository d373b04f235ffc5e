"""Django's PostgreSQL backend, except that no wait for the server lasts longer than the
database's REPLY_TIMEOUT (settings.py: the statement timeout plus the connect timeout).

`connect_timeout` bounds a connection that is being made and `statement_timeout` a query
the server is running; neither helps once a server that has accepted a connection stops
answering on it (hung, or a network that still acknowledges packets): the process would
wait until gunicorn kills it, and every worker in turn. Here the wait ends, the connection
is closed (its state is unknown), and the error is an OperationalError like any other
outage, which the pages and the API answer with a 503."""

import psycopg
from django.db.backends.postgresql import base


class BoundedConnection(psycopg.Connection):
    """psycopg's connection, waiting at most `reply_timeout` seconds for any answer."""

    reply_timeout = None

    def wait(self, gen, interval=0.1, timeout=None):
        if timeout is None:
            timeout = self.reply_timeout
        try:
            return super().wait(gen, interval=interval, timeout=timeout)
        except psycopg.errors._WaitTimeout:  # what psycopg's own wait raises at `timeout`
            self.pgconn.finish()
            raise psycopg.OperationalError(f"the database did not answer within {timeout:g} s") from None


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        """Django's pool (DB_POOL), making BoundedConnections from the start: the pool's
        own check of an idle connection waits no longer than a request's statement does."""
        options = self.settings_dict["OPTIONS"].get("pool")
        if options and self.alias not in self._connection_pools:
            options = {} if options is True else options
            if "connection_class" not in options:
                bounded = type(
                    "BoundedConnection",
                    (BoundedConnection,),
                    {"reply_timeout": self.settings_dict.get("REPLY_TIMEOUT")},
                )
                self.settings_dict["OPTIONS"]["pool"] = {**options, "connection_class": bounded}
        return super().pool

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # psycopg makes the connection (connect_timeout bounds that); from here on it waits
        # as a BoundedConnection, which only adds the bound to psycopg's own wait.
        if not isinstance(connection, BoundedConnection):
            connection.__class__ = BoundedConnection
        connection.reply_timeout = self.settings_dict.get("REPLY_TIMEOUT")
        return connection
