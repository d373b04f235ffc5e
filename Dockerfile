FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 FIREBREAK_VAR_DIR=/app/var
WORKDIR /app
RUN useradd --create-home --uid 1000 firebreak
COPY pyproject.toml constraints.txt ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v0 && mkdir -p var && chown -R firebreak var
USER firebreak
EXPOSE 8000
CMD ["gunicorn", "servicedesk.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
